//! Emailing a report over SMTP (lettre, rustls): an HTML body with the charts, the CSV and the PDF
//! attached.

use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::report::{ReportDoc, to_csv, to_html};

/// Where reports are mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465` (TLS).
    pub url: String,
    /// Sender address.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

/// Why a report could not be mailed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address or the URL is malformed.
    #[error("invalid mail setting: {0}")]
    Config(String),
    /// The server refused or could not be reached.
    #[error("SMTP: {0}")]
    Send(String),
}

/// Checks the settings without sending anything.
pub fn validate(cfg: &SmtpConfig) -> Result<(), MailError> {
    build(cfg, "check", "<p></p>".into(), Vec::new(), Vec::new())?;
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&cfg.url)
        .map_err(|e| MailError::Config(format!("smtp_url: {e}")))?;
    Ok(())
}

fn build(cfg: &SmtpConfig, subject: &str, html: String, csv: Vec<u8>, pdf: Vec<u8>) -> Result<Message, MailError> {
    let from: Mailbox = cfg.from.parse().map_err(|e| MailError::Config(format!("from {:?}: {e}", cfg.from)))?;
    if cfg.to.is_empty() {
        return Err(MailError::Config("no recipients".into()));
    }
    let mut b = Message::builder().from(from).subject(subject);
    for t in &cfg.to {
        b = b.to(t.parse().map_err(|e| MailError::Config(format!("to {t:?}: {e}")))?);
    }
    let csv_type = ContentType::parse("text/csv; charset=utf-8").map_err(|e| MailError::Config(e.to_string()))?;
    let pdf_type = ContentType::parse("application/pdf").map_err(|e| MailError::Config(e.to_string()))?;
    b.multipart(
        MultiPart::mixed()
            .singlepart(SinglePart::html(html))
            .singlepart(Attachment::new(format!("{subject}.csv")).body(csv, csv_type))
            .singlepart(Attachment::new(format!("{subject}.pdf")).body(pdf, pdf_type)),
    )
    .map_err(|e| MailError::Config(e.to_string()))
}

/// Sends `doc` to the configured recipients, in the configured language.
pub async fn send_report(
    cfg: &SmtpConfig,
    doc: &ReportDoc,
    q: &crate::report_job::QualityConfig,
) -> Result<(), MailError> {
    let subject = format!("switchboard-report-{}", doc.period);
    let (html, pdf) = (to_html(doc, q.report_locale), q.pdf(doc, q.report_locale));
    let msg = build(cfg, &subject, html, to_csv(doc).into_bytes(), pdf)?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&cfg.url)
        .map_err(|e| MailError::Config(format!("smtp_url: {e}")))?
        .build();
    transport.send(msg).await.map_err(|e| MailError::Send(e.to_string()))?;
    Ok(())
}
