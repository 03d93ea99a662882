//! The demo's content: what customers write, what agents answer, names and tags, in English and
//! Simplified Chinese. In texts, `{order}` stands for an order number and `{name}` for the
//! customer's first name.

/// What a customer writes about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    OrderStatus,
    DeliveryDelay,
    Refund,
    Billing,
    AccountAccess,
    Cancellation,
    Technical,
    Complaint,
    Praise,
    Question,
}

impl Intent {
    /// Tags an agent would put on such a conversation.
    pub fn tags(self) -> &'static [&'static str] {
        match self {
            Intent::OrderStatus => &["order-status"],
            Intent::DeliveryDelay => &["delivery", "delay"],
            Intent::Refund => &["refund", "return"],
            Intent::Billing => &["billing"],
            Intent::AccountAccess => &["account", "login"],
            Intent::Cancellation => &["cancellation"],
            Intent::Technical => &["bug", "app"],
            Intent::Complaint => &["complaint"],
            Intent::Praise => &["praise"],
            Intent::Question => &["pre-sales"],
        }
    }

    /// The team such conversations are routed to, if any.
    pub fn team(self) -> Option<&'static str> {
        match self {
            Intent::OrderStatus | Intent::DeliveryDelay => Some("logistics"),
            Intent::Refund | Intent::Billing | Intent::Cancellation => Some("billing"),
            Intent::AccountAccess | Intent::Technical => Some("tech-support"),
            Intent::Complaint | Intent::Praise | Intent::Question => None,
        }
    }
}

/// Customers' first messages in English.
pub const EN_OPENINGS: &[(Intent, &str)] = &[
    (
        Intent::OrderStatus,
        "Hi, I placed order #{order} on Monday and the status still says \"processing\". Has it shipped yet?",
    ),
    (
        Intent::OrderStatus,
        "Can you tell me where my order #{order} is? The tracking link in the confirmation email doesn't work.",
    ),
    (
        Intent::OrderStatus,
        "Hello! I ordered a pair of running shoes last week (order {order}). When should I expect them?",
    ),
    (
        Intent::OrderStatus,
        "My order #{order} shows as delivered but there's nothing at my door and my neighbours haven't seen it either.",
    ),
    (
        Intent::DeliveryDelay,
        "My package was supposed to arrive yesterday and the tracking hasn't updated in 4 days. Order #{order}.",
    ),
    (
        Intent::DeliveryDelay,
        "This is the third time the courier has rescheduled my delivery. I took the day off work for this.",
    ),
    (
        Intent::DeliveryDelay,
        "The estimated delivery for #{order} keeps moving. First it was Tuesday, now it says next Monday. What's going on?",
    ),
    (
        Intent::DeliveryDelay,
        "I paid for express shipping on order {order} and it's now 5 days late. Can I get the shipping fee back?",
    ),
    (Intent::Refund, "The jacket I received is a size too small. How do I return it and get a refund?"),
    (Intent::Refund, "I sent back order #{order} two weeks ago and still haven't seen the refund on my card."),
    (Intent::Refund, "The blender arrived with a cracked jug. I'd like a replacement or a full refund please."),
    (Intent::Refund, "Can I return an item I bought in the sale? The tag is still on and it's never been worn."),
    (Intent::Billing, "I was charged twice for order #{order}. Please refund the duplicate payment."),
    (Intent::Billing, "Why is there a charge of $14.99 on my statement? I cancelled my membership last month."),
    (
        Intent::Billing,
        "The discount code SPRING20 didn't apply at checkout, but the banner said it was valid until Sunday.",
    ),
    (Intent::Billing, "Could I get a VAT invoice for order {order}? It needs our company name and tax number on it."),
    (
        Intent::Billing,
        "Our partner invoice for last month lists 120 units but we only received 100. Can you correct it?",
    ),
    (Intent::AccountAccess, "I can't log in. The password reset email never arrives, and yes, I've checked spam."),
    (Intent::AccountAccess, "My account got locked after I typed the wrong password a few times. Can you unlock it?"),
    (Intent::AccountAccess, "I changed my phone number and now I can't receive the verification code to sign in."),
    (
        Intent::AccountAccess,
        "Someone changed the email address on my account and it wasn't me. Please help, I think I've been hacked.",
    ),
    (Intent::Cancellation, "Please cancel order #{order}, I picked the wrong colour by mistake."),
    (Intent::Cancellation, "How do I cancel my subscription? I can't find the option anywhere in the app."),
    (Intent::Cancellation, "I'd like to cancel my order before it ships. I placed it about an hour ago."),
    (Intent::Cancellation, "Can I cancel just one item from order #{order} and keep the rest?"),
    (Intent::Technical, "The app crashes every time I open the cart. I'm on an iPhone 13 with the latest iOS."),
    (
        Intent::Technical,
        "Checkout fails with \"Payment could not be processed\" but my bank says there's nothing wrong with the card.",
    ),
    (Intent::Technical, "Push notifications stopped working after the last app update."),
    (Intent::Technical, "Product pages take forever to load and the images don't show up at all."),
    (Intent::Complaint, "Really disappointed. The sofa looks nothing like the photos on your website."),
    (Intent::Complaint, "Your courier left my parcel out in the rain and everything inside is soaked."),
    (Intent::Complaint, "I've been on hold for 40 minutes and nobody answers. This is unacceptable."),
    (Intent::Complaint, "The agent I spoke to yesterday promised me a call back and nobody ever called."),
    (Intent::Praise, "Just wanted to say thanks, the replacement arrived the very next day. Great service!"),
    (Intent::Praise, "Your colleague Sam was super helpful yesterday, please pass on my thanks."),
    (Intent::Praise, "Love the new app update, checkout is so much faster now."),
    (Intent::Praise, "The gift wrapping was beautiful and my mum loved her present. Thank you!"),
    (Intent::Question, "Do you ship to Canada? And if so, how long does it usually take?"),
    (Intent::Question, "Will the 65-inch model fit the wall mount I already have (VESA 400x400)?"),
    (Intent::Question, "Will the winter boots be back in stock in size 42?"),
    (Intent::Question, "Do you price match if I find the same item cheaper somewhere else?"),
    (
        Intent::Question,
        "We're a retailer on your partner programme. Where can we download the updated wholesale price list?",
    ),
];

/// Customers' first messages in Simplified Chinese.
pub const ZH_OPENINGS: &[(Intent, &str)] = &[
    (Intent::OrderStatus, "你好，我的订单{order}已经下单三天了，为什么还显示“待发货”？"),
    (Intent::OrderStatus, "请问订单号{order}现在到哪里了？物流信息一直没有更新。"),
    (Intent::OrderStatus, "我上周买的空气净化器什么时候能发货？"),
    (Intent::DeliveryDelay, "说好的次日达，已经过去三天了还没收到，订单{order}。"),
    (Intent::DeliveryDelay, "快递员说放在快递柜了，但是我一直没有收到取件码。"),
    (Intent::DeliveryDelay, "物流显示已签收，可是我根本没有收到包裹！"),
    (Intent::Refund, "收到的衣服有色差，和图片完全不一样，我想申请退货退款。"),
    (Intent::Refund, "退货已经寄回一个星期了，退款什么时候能到账？"),
    (Intent::Refund, "收到时外包装破损，里面的杯子碎了一个，这个怎么处理？"),
    (Intent::Billing, "同一笔订单被扣了两次款，麻烦尽快帮我退回多扣的钱。"),
    (Intent::Billing, "优惠券明明在有效期内，结账时却提示无法使用。"),
    (Intent::Billing, "请问可以开增值税专用发票吗？订单号{order}。"),
    (Intent::AccountAccess, "手机号换了，收不到验证码，登录不了账号怎么办？"),
    (Intent::AccountAccess, "我的账号被冻结了，提示存在异常登录，请帮忙解冻。"),
    (Intent::AccountAccess, "忘记密码了，重置密码的短信一直收不到。"),
    (Intent::Cancellation, "麻烦帮我取消订单{order}，收货地址填错了。"),
    (Intent::Cancellation, "会员自动续费了，我不想续了，可以取消并退款吗？"),
    (Intent::Cancellation, "刚下的单还没发货，我想取消，怎么操作？"),
    (Intent::Technical, "App 一打开就闪退，我用的是华为 Mate 60。"),
    (Intent::Technical, "付款的时候一直提示“网络异常”，换了网络也不行。"),
    (Intent::Technical, "小程序里购物车的商品全部消失了。"),
    (Intent::Complaint, "客服电话一直打不通，问题拖了一个星期都没人处理，太失望了。"),
    (Intent::Complaint, "快递员态度很差，直接把包裹扔在门口就走了。"),
    (Intent::Complaint, "买了不到一个月就降价两百块，感觉被坑了。"),
    (Intent::Praise, "昨天的客服非常耐心，问题很快就解决了，给你们点赞！"),
    (Intent::Praise, "包装很用心，发货也很快，下次还会再来买。"),
    (Intent::Question, "请问这款电饭煲支持 110V 电压吗？我想带去美国用。"),
    (Intent::Question, "你们在上海有线下门店吗？想去试一下。"),
    (Intent::Question, "这个型号有没有蓝色的？什么时候补货？"),
    (Intent::Question, "企业采购可以批量下单吗？有没有折扣？"),
];

/// Later messages from the same customer, in English.
pub const EN_FOLLOW_UPS: &[&str] = &[
    "Any update on this?",
    "Here's my order number in case you need it: #{order}",
    "Hello? Is anyone there?",
    "I also sent an email about this yesterday but didn't get an answer.",
    "Just to add: I'm travelling from Friday so I'd like this sorted before then.",
    "I've attached a screenshot of the error, hope that helps.",
    "Sorry, I forgot to say I'm using the email address on my account, not my work one.",
    "It's been two days now. Could someone please get back to me?",
    "Thanks. Let me know if you need anything else from me.",
    "Actually it's order #{order}, I gave you the wrong number before.",
];

/// Later messages from the same customer, in Chinese.
pub const ZH_FOLLOW_UPS: &[&str] = &[
    "有人在吗？",
    "订单号是{order}，麻烦查一下。",
    "怎么还没有回复？",
    "我已经等了两天了，请尽快处理。",
    "截图已经发过去了，请看一下。",
    "补充一下，我周五要出差，希望在那之前能解决。",
    "好的，需要我提供什么信息吗？",
    "麻烦快一点，谢谢。",
];

/// Agents' answers in English.
pub const EN_REPLIES: &[(Intent, &str)] = &[
    (
        Intent::OrderStatus,
        "Hi {name}, thanks for waiting. Order #{order} left our warehouse this morning and should reach you within 2 working days. You'll get a tracking email shortly.",
    ),
    (
        Intent::OrderStatus,
        "Hi {name}, I've checked with the courier: your parcel is at the local depot and is out for delivery tomorrow before 1 pm.",
    ),
    (
        Intent::DeliveryDelay,
        "Hi {name}, I'm sorry about the delay. I've opened an investigation with the courier and refunded your shipping fee. I'll update you as soon as I hear back, usually within 24 hours.",
    ),
    (
        Intent::DeliveryDelay,
        "Hi {name}, apologies for the wait. I've booked a fixed delivery slot for Thursday between 8 am and noon. Does that work for you?",
    ),
    (
        Intent::Refund,
        "Hi {name}, I've approved the return. You'll receive a prepaid label by email; once the parcel is scanned, the refund goes back to your original payment method within 3–5 working days.",
    ),
    (
        Intent::Refund,
        "Hi {name}, sorry it arrived damaged! A replacement is on its way at no cost, and there's no need to send the broken one back.",
    ),
    (
        Intent::Billing,
        "Hi {name}, you're right: the second charge was a duplicate authorisation. I've released it and it will disappear from your statement within a few days.",
    ),
    (
        Intent::Billing,
        "Hi {name}, I've applied the discount manually and refunded the difference. You'll see it on your card in 3–5 working days.",
    ),
    (
        Intent::AccountAccess,
        "Hi {name}, I've verified your identity and sent a new sign-in link to your registered email. It's valid for 30 minutes; please set a new password once you're in.",
    ),
    (
        Intent::AccountAccess,
        "Hi {name}, for your security I've locked the account and reset the email address to the original one. Please check your inbox for the next steps.",
    ),
    (
        Intent::Cancellation,
        "Hi {name}, done: the order is cancelled and you won't be charged. You'll get a confirmation email in a few minutes.",
    ),
    (
        Intent::Cancellation,
        "Hi {name}, your subscription is cancelled and won't renew. You keep the benefits until the end of the current period.",
    ),
    (
        Intent::Technical,
        "Hi {name}, thanks for the details. Our app team has reproduced the problem and a fix ships in this week's update. Meanwhile, clearing the app cache should help.",
    ),
    (
        Intent::Technical,
        "Hi {name}, that error comes from a payment-provider outage this morning; it's fixed now. Could you try again and let me know if it works?",
    ),
    (
        Intent::Complaint,
        "Hi {name}, I'm really sorry, this isn't the experience we want you to have. I've passed this to my team lead and added a 15% voucher to your account for the trouble.",
    ),
    (
        Intent::Complaint,
        "Hi {name}, I completely understand your frustration. I'm taking ownership of this myself and will call you today before 5 pm.",
    ),
    (Intent::Praise, "Thank you so much, {name}! I've shared your message with the team, it made our day."),
    (Intent::Praise, "That's lovely to hear, {name}. Thanks for taking the time to write to us!"),
    (
        Intent::Question,
        "Hi {name}, good question! Yes, we do. Standard delivery takes 5–7 working days and you'll see the exact cost at checkout.",
    ),
    (
        Intent::Question,
        "Hi {name}, it's due back in stock next week. I've added you to the notification list so you'll hear from us the moment it's available.",
    ),
];

/// Agents' answers in English that fit any question.
pub const EN_GENERIC_REPLIES: &[&str] = &[
    "Hi {name}, thanks for reaching out. I'm looking into this now and will get back to you within the hour.",
    "Hi {name}, thanks for your patience. Could you send me a photo of the item and the order number so I can sort this out?",
    "Hi {name}, I've escalated this to the right team and will keep you posted here.",
];

/// Agents' answers in Chinese.
pub const ZH_REPLIES: &[(Intent, &str)] = &[
    (Intent::OrderStatus, "您好，已为您查询，订单{order}今天上午已从仓库发出，预计两天内送达，请留意物流短信。"),
    (Intent::DeliveryDelay, "非常抱歉给您带来不便！已经联系快递公司加急处理，今天之内会给您回复最新进展。"),
    (Intent::Refund, "您好，退货申请已通过，快递员会上门取件。仓库签收后 3–5 个工作日内退款原路返回。"),
    (Intent::Billing, "您好，经核实确实重复扣款，多扣的金额已经原路退回，预计 1–3 个工作日到账。"),
    (Intent::AccountAccess, "您好，已为您解除账号冻结，建议您登录后尽快修改密码并开启双重验证。"),
    (Intent::Cancellation, "您好，订单已为您取消，款项将在 1–3 个工作日内原路退回。"),
    (Intent::Technical, "您好，感谢反馈！技术团队已经定位到问题，本周的新版本会修复，您可以先清除缓存后重新打开试试。"),
    (Intent::Complaint, "非常抱歉给您带来不好的体验，您的反馈已经升级给主管处理，并为您补发了一张 20 元优惠券。"),
    (Intent::Praise, "感谢您的认可！我们会继续努力，祝您生活愉快～"),
    (Intent::Question, "您好，这款产品支持 100–240V 宽电压，在美国可以直接使用，只需要一个转换插头。"),
];

/// Agents' answers in Chinese that fit any question.
pub const ZH_GENERIC_REPLIES: &[&str] = &[
    "您好，收到您的问题，正在为您核实，请稍等。",
    "您好，麻烦提供一下订单号和商品照片，我马上帮您处理。",
    "您好，已经转交相关部门处理，有进展会第一时间在这里通知您。",
];

/// Internal notes agents leave on English conversations.
pub const EN_NOTES: &[&str] = &[
    "Checked with the warehouse: parcel is stuck at the sorting centre. Follow up tomorrow.",
    "Repeat customer (12 orders). Offered a goodwill voucher.",
    "Escalated to tier 2: looks like a duplicate charge from the payment provider.",
    "Possible account takeover. Forced a password reset and informed the security team.",
    "Waiting for the courier's investigation reference.",
    "Known app bug, linked to the release tracker.",
];

/// Internal notes agents leave on Chinese conversations.
pub const ZH_NOTES: &[&str] = &[
    "已联系仓库，包裹在分拣中心滞留，明天跟进。",
    "老客户，已申请补偿券。",
    "疑似重复扣款，已转财务核实。",
    "已提交技术部，等待修复版本。",
];

/// A customer writing again after their conversation was resolved, in English.
pub const EN_REOPENS: &[&str] = &[
    "Sorry to bother you again, but this still isn't sorted.",
    "Hi again, nothing has changed on my side since your last message.",
    "I'm afraid that didn't work. Could you take another look?",
];

/// A customer writing again after their conversation was resolved, in Chinese.
pub const ZH_REOPENS: &[&str] =
    &["不好意思，问题还是没有解决。", "你好，我这边还是没有任何变化。", "还是不行，麻烦再帮我看一下。"];

/// English first names.
pub const EN_FIRST_NAMES: &[&str] = &[
    "Emma",
    "Oliver",
    "Ava",
    "Liam",
    "Sophia",
    "Noah",
    "Isabella",
    "James",
    "Mia",
    "Lucas",
    "Charlotte",
    "Ethan",
    "Amelia",
    "Mason",
    "Harper",
    "Logan",
    "Evelyn",
    "Daniel",
    "Abigail",
    "Henry",
    "Grace",
    "Jack",
    "Chloe",
    "Samuel",
    "Priya",
    "Omar",
    "Fatima",
    "Mateo",
    "Aisha",
    "Diego",
];

/// English family names.
pub const EN_LAST_NAMES: &[&str] = &[
    "Johnson", "Smith", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young",
    "Patel", "Khan", "Murphy", "O'Brien", "Fischer", "Rossi", "Silva", "Novak",
];

/// Chinese family names.
pub const ZH_SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗",
    "高",
];

/// Chinese given names.
pub const ZH_GIVEN_NAMES: &[&str] = &[
    "芳", "伟", "娜", "敏", "静", "磊", "洋", "婷", "强", "杰", "晨", "欣怡", "子涵", "浩然", "雨桐", "思远", "佳琪",
    "梓轩", "一诺", "晓明",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn has_cjk(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn there_is_enough_content_in_both_languages() {
        assert!(EN_OPENINGS.len() >= 40);
        assert!(ZH_OPENINGS.len() >= 30);
        assert!(EN_OPENINGS.iter().all(|(_, t)| !has_cjk(t)));
        assert!(ZH_OPENINGS.iter().all(|(_, t)| has_cjk(t)));
        assert!(ZH_FOLLOW_UPS.iter().chain(ZH_NOTES).chain(ZH_REOPENS).chain(ZH_GENERIC_REPLIES).all(|t| has_cjk(t)));
    }

    #[test]
    fn every_intent_has_openings_and_replies_in_both_languages() {
        let all = [
            Intent::OrderStatus,
            Intent::DeliveryDelay,
            Intent::Refund,
            Intent::Billing,
            Intent::AccountAccess,
            Intent::Cancellation,
            Intent::Technical,
            Intent::Complaint,
            Intent::Praise,
            Intent::Question,
        ];
        for intent in all {
            for table in [EN_OPENINGS, ZH_OPENINGS, EN_REPLIES, ZH_REPLIES] {
                assert!(table.iter().any(|(i, _)| *i == intent), "{intent:?}");
            }
            assert!(!intent.tags().is_empty());
        }
    }
}
