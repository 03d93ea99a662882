//! `switchboard admin …`: users, API tokens and channels from the command line.

use std::io::Read;

use anyhow::{Context, bail};
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use clap::Subcommand;
use switchboard_domain::{ChannelKind, ChannelSlug, Role};
use switchboard_store::{ChannelRecord, DynStore, NewUser};

/// Admin tasks.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Creates a user.
    CreateUser {
        /// Login email.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// admin, supervisor or agent.
        #[arg(long, default_value = "agent")]
        role: String,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Creates an API token for a user and prints it (it is shown only once).
    CreateToken {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// A label for the token.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// Creates or updates a channel.
    CreateChannel {
        /// URL-safe name, e.g. `support-api`.
        #[arg(long)]
        slug: String,
        /// api, whatsapp, messenger, instagram, x, telegram, web or email.
        #[arg(long, default_value = "api")]
        kind: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// API channels: where replies are POSTed.
        #[arg(long)]
        callback_url: Option<String>,
        /// API channels: HMAC secret for signing callbacks. WhatsApp/Messenger/Instagram: the Meta
        /// app secret that signs webhooks. Telegram: the webhook secret token.
        #[arg(long)]
        secret: Option<String>,
        /// Provider settings as a JSON object, e.g. for WhatsApp
        /// `{"verify_token":"…","access_token":"…","phone_number_id":"…"}` (see
        /// docs/channels-meta.md). Secret keys left out keep their stored values.
        #[arg(long)]
        config: Option<String>,
    },
    /// Lists users.
    ListUsers,
}

/// Hashes a password with Argon2id (default parameters).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// Creates a token for `email` and returns it.
pub async fn create_token(store: &DynStore, email: &str, name: &str) -> anyhow::Result<String> {
    let user = store.find_user_by_email(email).await?.with_context(|| format!("no user with email {email}"))?;
    let (token, hash) = switchboard_web::auth::generate_token();
    store.create_api_token(user.id, name, &hash).await?;
    Ok(token)
}

/// Runs one admin command.
pub async fn run(store: DynStore, cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateUser { email, name, role, password_stdin } => {
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            if !email.contains('@') {
                bail!("--email: {email:?} is not an email address");
            }
            let password_hash = if password_stdin {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s).context("reading the password from stdin")?;
                let pw = s.lines().next().unwrap_or("").to_owned();
                if pw.chars().count() < 8 {
                    bail!("the password must be at least 8 characters");
                }
                Some(hash_password(&pw)?)
            } else {
                None
            };
            let user = store.create_user(&NewUser { email, name, role, password_hash }).await?;
            println!("created {} {} ({})", user.role, user.email, user.id);
        }
        AdminCommand::CreateToken { email, name } => {
            println!("{}", create_token(&store, &email, &name).await?);
        }
        AdminCommand::CreateChannel { slug, kind, name, callback_url, secret, config } => {
            let slug = ChannelSlug::parse(&slug).map_err(|e| anyhow::anyhow!("--slug: {e}"))?;
            let kind: ChannelKind = kind.parse().map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
            if kind == ChannelKind::Api && callback_url.is_none() {
                bail!("--callback-url is required for an api channel (replies are POSTed there)");
            }
            let existing = store.get_channel(&slug).await?;
            let created_at = existing.as_ref().map(|c| c.created_at).unwrap_or_else(chrono::Utc::now);
            // Without --config the stored settings stay; with it, secret keys it leaves out stay.
            let given = config.is_some();
            let mut config: serde_json::Value = match &config {
                Some(c) => serde_json::from_str(c).map_err(|e| anyhow::anyhow!("--config is not JSON: {e}"))?,
                None => serde_json::json!({}),
            };
            let Some(obj) = config.as_object_mut() else { bail!("--config must be a JSON object") };
            if let Some(old) = existing.as_ref().and_then(|c| c.config.as_object()) {
                for (k, v) in old {
                    if !given || k.contains("token") || k.contains("secret") {
                        obj.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            switchboard_channels::validate_config(kind, &config).map_err(|e| anyhow::anyhow!("--{e}"))?;
            // Updating a channel without --secret keeps its secret.
            let secret = secret.or_else(|| existing.and_then(|c| c.secret));
            let rec = ChannelRecord {
                name: name.unwrap_or_else(|| slug.to_string()),
                slug,
                kind,
                callback_url,
                secret,
                config,
                created_at,
            };
            store.upsert_channel(&rec).await?;
            println!("saved channel {} ({})", rec.slug, rec.kind);
        }
        AdminCommand::ListUsers => {
            for u in store.list_users().await? {
                println!("{}\t{}\t{}\t{}", u.id, u.role, u.email, u.name);
            }
        }
    }
    Ok(())
}
