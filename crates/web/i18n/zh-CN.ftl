# Switchboard 界面 — 简体中文。这里的每个键也必须出现在 en.ftl 中（单元测试会检查）。

## 导航与框架
nav-skip = 跳到正文
nav-label = 主导航
nav-inbox = 收件箱
nav-admin = 管理
nav-settings = 设置
nav-logout = 退出登录
live-on = 实时
live-off = 离线
role-agent = 客服
role-supervisor = 主管
role-admin = 管理员

## 登录
login-title = 登录 Switchboard
login-email = 邮箱
login-password = 密码
login-submit = 登录
login-failed = 邮箱或密码错误。
login-throttled = 失败次数过多，请 15 分钟后再试。

## 错误
error-title = 出错了
error-back = 返回收件箱
error-forbidden = 你没有权限打开此页面。
error-csrf = 表单已过期或来自其他网站。请刷新页面后重试。
error-signed-out = 你已退出登录，请重新登录。
error-unavailable = 服务暂时不可用，请稍后再试。
error-not-found = 未找到。
error-bad-form = 表单不完整或无效。
error-bad-filter = 筛选条件无效。
error-empty-message = 请先输入消息内容。
error-message-too-long = 消息太长。
error-bad-snooze = 请选择一个将来的暂缓时间。
error-agent-assign = 客服只能把会话分配给自己。
error-bad-language = 不支持该语言。
error-bad-time-zone = 未知时区。请使用 IANA 名称，例如 Asia/Shanghai。
error-name-required = 名称不能为空。
error-bad-config = 设置必须是 JSON 对象。
error-bad-url = 回调地址必须以 http:// 或 https:// 开头。
error-channel-exists = 已存在使用该标识的渠道。
error-bad-email = 请输入有效的邮箱地址。
error-short-password = 密码至少需要 10 个字符。
error-self-demote = 你不能停用自己，也不能取消自己的管理员角色。

## 收件箱
inbox-views = 收件箱视图
inbox-list = 会话
inbox-empty = 这里还没有会话。新会话会自动出现。
inbox-unread = 未读
inbox-pages = 分页
inbox-prev = 上一页
inbox-next = 下一页
view-mine = 我的
view-unassigned = 未分配
view-teams = 我的团队
view-all = 全部
filter-search = 搜索
filter-search-hint = 工单号、姓名或内容
filter-status = 状态
filter-channel = 渠道
filter-any-channel = 全部渠道
filter-priority = 优先级
filter-tag = 标签
filter-sort = 排序
filter-apply = 应用
sort-urgency = 最紧急优先
sort-recent = 最新动态
status-open = 待处理
status-pending = 等待客户
status-snoozed = 已暂缓
status-resolved = 已解决
status-closed = 已关闭
status-any = 全部状态
priority-any = 全部优先级
priority-low = 低
priority-normal = 普通
priority-high = 高
priority-urgent = 紧急
contact-unnamed = 未命名联系人

## 会话
conv-assigned-to = 负责人：
conv-unassigned = 未分配
conv-snoozed-until = 暂缓至 { $time }
sla-first_response = 首次响应
sla-next_response = 后续响应
sla-resolution = 解决
sla-due = { $what }截止 __TIME__
sla-paused = { $what }已暂停（等待客户）
thread-this-case = 当前工单
thread-earlier-case = 早前工单
thread-empty = 没有消息。
msg-public = 公开
msg-private = 私密
msg-note = 内部备注 — 仅团队可见
msg-attachments = 附件
msg-delivery = 送达状态
delivery-queued = 排队中
delivery-sent = 已发送
delivery-delivered = 已送达
delivery-read = 已读
delivery-failed = 发送失败
attachment-image = 图片
attachment-audio = 音频
attachment-video = 视频
attachment-location = 位置
attachment-sticker = 贴纸
attachment-file = 文件
author-system = 系统
presence-viewing = { $name } 正在查看此会话
presence-typing = { $name } 正在输入…

## 编辑器
composer-kind = 撰写
composer-reply = 回复客户
composer-note = 内部备注（仅团队可见）
composer-visibility = 回复可见范围
composer-public-reply = 公开 — 所有人可见
composer-private-reply = 私信
composer-warning-public = 此回复将在渠道上公开。切勿包含隐私信息。
composer-warning-private = 此回复将私下发送给客户。
composer-warning-note = 备注只在团队内部可见，不会发送给客户。
composer-text = 消息
composer-placeholder = 输入回复…（Ctrl+Enter 发送）
composer-send = 发送
composer-over-limit = 超出渠道字数限制
composer-window-open = 客服会话窗口开放至 { $time }
composer-window-closed = 客服会话窗口已关闭：{ $reason }
composer-window-template-hint = 现在只能发送已审核的消息模板。
template-title = 发送已审核的 WhatsApp 消息模板
template-name = 模板名称
template-language = 语言代码
template-params = 正文参数，每行一个（{"{{1}}"}、{"{{2}}"}…）
template-send = 发送模板
canned-title = 快捷回复
canned-hint = 输入 / 和快捷码即可插入快捷回复；用 ↑ ↓ 选择，按 Enter 或 Tab 插入。
composer-closed = 此工单已关闭：不能再回复，但可以添加备注。

## 侧栏与操作
side-label = 详情
side-actions = 操作
side-contact = 联系人
side-identities = 身份
side-past-cases = 历史工单
side-no-past-cases = 没有更早的工单。
side-channel = 渠道
field-status = 状态
field-assignee = 负责人
field-priority = 优先级
field-tags = 标签（用逗号分隔）
field-snooze = 暂缓至
assign-nobody = 无
action-assign-me = 分配给我
action-resolve = 标记为已解决
action-save = 保存
action-edit = 编辑
action-close = 关闭

## 键盘快捷键
shortcuts-title = 键盘快捷键
shortcut-next-prev = 下一个 / 上一个会话
shortcut-search = 搜索
shortcut-reply = 回复
shortcut-note = 内部备注
shortcut-send = 发送
shortcut-assign = 分配给我
shortcut-resolve = 标记为已解决
shortcut-inbox = 前往收件箱
shortcut-help = 显示此帮助

## 设置
settings-title = 个人设置
settings-language = 语言
settings-language-auto = 跟随浏览器
settings-time-zone = 时区
settings-time-zone-hint = 时间将按此时区显示。留空表示 UTC。
settings-sessions = 登录会话
settings-signed-in-as = 当前登录：{ $email }
settings-logout-everywhere = 在所有设备上退出登录

## 管理
admin-channels = 渠道
admin-users = 用户与角色
admin-audit = 审计日志
admin-channel-add = 添加渠道
admin-channel-edit = 编辑渠道
admin-channel-slug = 标识（用于 Webhook 地址）
admin-channel-name = 名称
admin-channel-kind = 类型
admin-channel-webhook = Webhook 地址
admin-channel-verify-token = 验证令牌
admin-channel-callback = 回调地址
admin-channel-secret = 密钥
admin-channel-config = 服务商设置（JSON）
admin-channel-config-hint = 例如验证令牌、主页或电话号码 ID。未知的键会被保留。
admin-secret-set = 已设置
admin-secret-unset = 未设置
admin-secret-keep = 留空则保留当前密钥
admin-user-email = 邮箱
admin-user-name = 姓名
admin-user-role = 角色
admin-user-disabled = 已停用
admin-user-new-password = 新密码
admin-user-password = 密码
admin-user-add = 添加用户
admin-user-you = 你
admin-audit-when = 时间
admin-audit-who = 操作人
admin-audit-action = 操作
admin-audit-target = 对象
admin-audit-change = 变更
admin-audit-show = 变更前 / 变更后
admin-audit-before = 变更前
admin-audit-after = 变更后
admin-audit-empty = 暂无记录。
