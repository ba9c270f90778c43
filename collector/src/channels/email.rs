//! The email channel: one mail per event over SMTP (STARTTLS, TLS or, for a local relay,
//! plain), threaded per ticket: the "opened" mail's Message-ID is stable
//! (`<firstline-ticket-ID@DOMAIN>`) and every later mail about the ticket refers to it
//! (In-Reply-To, References), so mail clients show one conversation per ticket.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::store::channels::Delivery;

const TIMEOUT: Duration = Duration::from_secs(20);

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    StartTls,
    Tls,
    /// Plain SMTP, for a relay on the same host or network.
    None,
}

impl SmtpSecurity {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "starttls" => Some(SmtpSecurity::StartTls),
            "tls" => Some(SmtpSecurity::Tls),
            "none" => Some(SmtpSecurity::None),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmailChannel {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub credentials: Option<(String, String)>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
}

/// The thread root every mail about ticket `id` refers to.
pub fn thread_root(ticket_id: i64, domain: &str) -> String {
    format!("<firstline-ticket-{ticket_id}@{domain}>")
}

/// The mail for one delivery.
pub fn message(channel: &EmailChannel, delivery: &Delivery) -> Result<Message, String> {
    let payload: serde_json::Value =
        serde_json::from_str(&delivery.payload_json).map_err(|e| e.to_string())?;
    if payload.get("requester").is_some() {
        return requester_message(channel, delivery, &payload);
    }
    let ticket = &payload["ticket"];
    let domain = channel.from.email.domain().to_owned();
    let root = thread_root(delivery.ticket_id, &domain);
    let title = ticket["title"].as_str().unwrap_or_default();
    let subject = format!(
        "[Firstline #{}] P{} {}: {title}",
        delivery.ticket_id,
        ticket["priority"].as_u64().unwrap_or(0),
        delivery.event
    );
    let mut builder = Message::builder()
        .from(channel.from.clone())
        .subject(subject);
    for to in &channel.to {
        builder = builder.to(to.clone());
    }
    builder = if delivery.event == "opened" {
        builder.message_id(Some(root))
    } else {
        builder
            .message_id(Some(format!(
                "<firstline-ticket-{}-{}@{domain}>",
                delivery.ticket_id, delivery.id
            )))
            .in_reply_to(root.clone())
            .references(root)
    };
    let mut body = format!(
        "Ticket #{} {}: {title}\n\nState: {}\nPriority: P{} (impact {}, urgency {})\nTier: L{}\nCheck: {} on {}\n",
        delivery.ticket_id,
        delivery.event,
        ticket["state"].as_str().unwrap_or_default(),
        ticket["priority"].as_u64().unwrap_or(0),
        ticket["impact"].as_str().unwrap_or_default(),
        ticket["urgency"].as_str().unwrap_or_default(),
        ticket["tier"].as_u64().unwrap_or(1),
        ticket["check"].as_str().unwrap_or_default(),
        ticket["resource"].as_str().unwrap_or_default(),
    );
    if let Some(description) = ticket["description"].as_str() {
        body.push_str(&format!("\n{description}\n"));
    }
    if let Some(devices) = payload["devices"].as_array().filter(|d| !d.is_empty()) {
        let names: Vec<&str> = devices
            .iter()
            .filter_map(|d| d["hostname"].as_str())
            .take(50)
            .collect();
        body.push_str(&format!(
            "\nDevices ({}): {}\n",
            devices.len(),
            names.join(", ")
        ));
    }
    if let Some(fixes) = payload["suggested_fixes"]
        .as_array()
        .filter(|f| !f.is_empty())
    {
        body.push_str("\nKnown fixes:\n");
        for fix in fixes {
            body.push_str(&format!(
                "- {} (worked {} times)\n",
                fix["solution"].as_str().unwrap_or_default(),
                fix["worked_count"]
            ));
        }
    }
    if let Some(resolution) = ticket["resolution"].as_str() {
        body.push_str(&format!("\nResolution: {resolution}\n"));
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("building the mail: {e}"))
}

/// The mail to the person who reported it: a public reply or "is it fixed?", in their
/// language, in the ticket's thread, with nothing internal (no evidence, no priorities).
fn requester_message(
    channel: &EmailChannel,
    delivery: &Delivery,
    payload: &serde_json::Value,
) -> Result<Message, String> {
    use firstline_i18n::{Lang, msg};
    let requester = &payload["requester"];
    let address = requester["email"].as_str().unwrap_or_default();
    let address: lettre::Address = address
        .parse()
        .map_err(|e| format!("the requester's address {address:?}: {e}"))?;
    // The name is given to lettre as a name, never pasted into an address: directories are
    // full of "Kowalski, Jan", and a name is no place for another address.
    let name = requester["display_name"]
        .as_str()
        .map(|name| name.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|name| !name.trim().is_empty());
    let to = Mailbox::new(name, address);
    let lang = requester["language"]
        .as_str()
        .and_then(Lang::parse)
        .unwrap_or_default();
    let ticket = delivery.ticket_id;
    let (subject, body) = if delivery.event == "replied" {
        (
            msg!("mail-reply-subject", "ticket" => ticket).text(lang),
            msg!("mail-reply-body", "ticket" => ticket, "text" => payload["reply"].as_str().unwrap_or_default())
                .text(lang),
        )
    } else {
        (
            msg!("mail-resolved-subject", "ticket" => ticket).text(lang),
            msg!("mail-resolved-body", "ticket" => ticket).text(lang),
        )
    };
    let domain = channel.from.email.domain().to_owned();
    let root = thread_root(ticket, &domain);
    Message::builder()
        .from(channel.from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!(
            "<firstline-ticket-{ticket}-{}@{domain}>",
            delivery.id
        )))
        .in_reply_to(root.clone())
        .references(root)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("building the mail: {e}"))
}

/// Sends the delivery's mail.
pub async fn send(channel: &EmailChannel, delivery: &Delivery) -> Result<(), String> {
    let message = message(channel, delivery)?;
    let builder = match channel.security {
        SmtpSecurity::StartTls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&channel.host)
                .map_err(|e| format!("SMTP {}: {e}", channel.host))?
        }
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&channel.host)
            .map_err(|e| format!("SMTP {}: {e}", channel.host))?,
        SmtpSecurity::None => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&channel.host)
        }
    };
    let mut builder = builder.port(channel.port).timeout(Some(TIMEOUT));
    if let Some((user, password)) = &channel.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    builder
        .build()
        .send(message)
        .await
        .map(drop)
        .map_err(|e| format!("SMTP {}:{}: {e}", channel.host, channel.port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the requester's mailbox was `format!("{name} <{address}>")` parsed back,
    /// so a directory name such as "Kowalski, Jan" made every mail to them fail.
    #[test]
    fn requester_mail_reaches_names_with_commas_quotes_and_brackets() {
        let channel = EmailChannel {
            host: "smtp.example.com".to_owned(),
            port: 25,
            security: SmtpSecurity::None,
            credentials: None,
            from: "it@example.com".parse().expect("a valid address"),
            to: Vec::new(),
        };
        for name in [
            "Kowalski, Jan",
            "Jan \"JK\" Kowalski",
            "Evil <attacker@evil.example>, x",
            "Παπαδόπουλος, Γιώργος",
            "",
        ] {
            let payload = serde_json::json!({
                "requester": {"account": "jk", "display_name": name, "email": "jan@example.com", "language": "pl"},
                "reply": "Please restart.",
            });
            let delivery = Delivery {
                id: "d1".to_owned(),
                channel: "people".to_owned(),
                ticket_id: 7,
                event: "replied".to_owned(),
                payload_json: payload.to_string(),
                attempts: 0,
                lease_until_ms: 0,
            };
            let mail = message(&channel, &delivery).expect(name);
            let to: Vec<String> = mail
                .envelope()
                .to()
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(to, ["jan@example.com"], "{name}");
        }
    }
}
