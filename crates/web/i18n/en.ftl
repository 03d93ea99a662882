# Switchboard UI — English. Every key here must also be in zh-CN.ftl (a unit test checks).

## Navigation and frame
nav-skip = Skip to content
nav-label = Main
nav-inbox = Inbox
nav-admin = Admin
nav-settings = Settings
nav-logout = Sign out
live-on = Live
live-off = Offline
role-agent = Agent
role-supervisor = Supervisor
role-admin = Admin

## Sign-in
login-title = Sign in to Switchboard
login-email = Email
login-password = Password
login-submit = Sign in
login-failed = Wrong email or password.
login-throttled = Too many failed attempts. Wait 15 minutes and try again.

## Errors
error-title = Something went wrong
error-back = Back to the inbox
error-forbidden = You do not have permission to open this page.
error-csrf = The form expired or came from another site. Reload the page and try again.
error-signed-out = You are signed out. Sign in again.
error-unavailable = The service is unavailable right now. Try again shortly.
error-not-found = Not found.
error-bad-form = The form was incomplete or invalid.
error-bad-filter = A filter value is not valid.
error-empty-message = Write a message first.
error-message-too-long = The message is too long.
error-bad-snooze = Choose a snooze time in the future.
error-agent-assign = Agents can assign conversations only to themselves.
error-bad-language = That language is not available.
error-bad-time-zone = Unknown time zone. Use an IANA name such as Asia/Shanghai.
error-name-required = A name is required.
error-bad-config = Settings must be a JSON object.
error-bad-url = The callback URL must start with http:// or https://.
error-channel-exists = A channel with this slug already exists.
error-bad-email = Enter a valid email address.
error-short-password = The password must have at least 10 characters.
error-self-demote = You cannot disable yourself or remove your own admin role.

## Inbox
inbox-views = Inbox views
inbox-list = Conversations
inbox-empty = Nothing here. New conversations appear automatically.
inbox-unread = Unread
inbox-pages = Pages
inbox-prev = Previous
inbox-next = Next
view-mine = Mine
view-unassigned = Unassigned
view-teams = My teams
view-all = All
filter-search = Search
filter-search-hint = Case number, name or text
filter-status = Status
filter-channel = Channel
filter-any-channel = Any channel
filter-priority = Priority
filter-tag = Tag
filter-sort = Sort
filter-apply = Apply
sort-urgency = Most urgent
sort-recent = Latest activity
status-open = Open
status-pending = Pending
status-snoozed = Snoozed
status-resolved = Resolved
status-closed = Closed
status-any = Any status
priority-any = Any priority
priority-low = Low
priority-normal = Normal
priority-high = High
priority-urgent = Urgent
contact-unnamed = Unnamed contact

## Conversation
conv-assigned-to = Assigned to
conv-unassigned = Unassigned
conv-snoozed-until = Snoozed until { $time }
sla-first_response = First response
sla-next_response = Next response
sla-resolution = Resolution
sla-due = { $what } due __TIME__
sla-paused = { $what } paused (waiting on the customer)
thread-this-case = This case
thread-earlier-case = Earlier case
thread-empty = No messages.
msg-public = Public
msg-private = Private
msg-note = Internal note — team only
msg-attachments = Attachments
msg-delivery = Delivery
delivery-queued = Queued
delivery-sent = Sent
delivery-delivered = Delivered
delivery-read = Read
delivery-failed = Failed
attachment-image = Image
attachment-audio = Audio
attachment-video = Video
attachment-location = Location
attachment-sticker = Sticker
attachment-file = File
author-system = System
presence-viewing = { $name } is viewing this conversation
presence-typing = { $name } is typing…

## Composer
composer-kind = Write
composer-reply = Reply to the customer
composer-note = Private note (team only)
composer-visibility = Reply visibility
composer-public-reply = Public — everyone can see it
composer-private-reply = Private message
composer-warning-public = This reply will be PUBLIC on the channel. Never include private data.
composer-warning-private = This reply goes privately to the customer.
composer-warning-note = Notes stay inside the team and are never sent.
composer-text = Message
composer-placeholder = Write your reply… (Ctrl+Enter to send)
composer-send = Send
composer-over-limit = Over the channel's limit
composer-window-open = Customer-service window open until { $time }
composer-window-closed = The customer-service window is closed: { $reason }
composer-window-template-hint = Only approved templates can be sent now.
template-title = Send an approved WhatsApp template
template-name = Template name
template-language = Language code
template-params = Body parameters, one per line ({"{{1}}"}, {"{{2}}"}, …)
template-send = Send template
canned-title = Canned replies
canned-hint = Type / and a shortcut for a canned reply; ↑ ↓ to choose, Enter or Tab to insert.
composer-closed = This case is closed: replies are not possible, notes are.

## Side panel and actions
side-label = Details
side-actions = Actions
side-contact = Contact
side-identities = Identities
side-past-cases = Past cases
side-no-past-cases = No earlier cases.
side-channel = Channel
field-status = Status
field-assignee = Assignee
field-priority = Priority
field-tags = Tags (comma-separated)
field-snooze = Snooze until
assign-nobody = Nobody
action-assign-me = Assign to me
action-resolve = Resolve
action-save = Save
action-edit = Edit
action-close = Close

## Keyboard shortcuts
shortcuts-title = Keyboard shortcuts
shortcut-next-prev = Next / previous conversation
shortcut-search = Search
shortcut-reply = Reply
shortcut-note = Private note
shortcut-send = Send
shortcut-assign = Assign to me
shortcut-resolve = Resolve
shortcut-inbox = Go to the inbox
shortcut-help = Show this help

## Settings
settings-title = Your settings
settings-language = Language
settings-language-auto = Browser language
settings-time-zone = Time zone
settings-time-zone-hint = Times are shown in this zone. Empty means UTC.
settings-sessions = Sessions
settings-signed-in-as = Signed in as { $email }
settings-logout-everywhere = Sign out on every device

## Admin
admin-channels = Channels
admin-users = Users and roles
admin-audit = Audit log
admin-channel-add = Add a channel
admin-channel-edit = Edit channel
admin-channel-slug = Slug (used in the webhook URL)
admin-channel-name = Name
admin-channel-kind = Kind
admin-channel-webhook = Webhook URL
admin-channel-verify-token = Verify token
admin-channel-callback = Callback URL
admin-channel-secret = Secret
admin-channel-config = Provider settings (JSON)
admin-channel-config-hint = For example the verify token, page or phone number ids. Unknown keys are kept.
admin-secret-set = Set
admin-secret-unset = Not set
admin-secret-keep = Leave empty to keep the current secret
admin-user-email = Email
admin-user-name = Name
admin-user-role = Role
admin-user-disabled = Disabled
admin-user-new-password = New password
admin-user-password = Password
admin-user-add = Add a user
admin-user-you = you
admin-audit-when = When
admin-audit-who = Who
admin-audit-action = Action
admin-audit-target = Target
admin-audit-change = Change
admin-audit-show = Before / after
admin-audit-before = Before
admin-audit-after = After
admin-audit-empty = No entries yet.
