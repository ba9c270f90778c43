//! `https.reachable` and `https.cert_expiry_days` per configured URL: the layer that failed
//! (resolve, connect, TLS, HTTP) and the certificate's remaining life.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio_rustls::rustls::RootCertStore;

use super::rule::{Direction, Observation, Rule};
use super::threshold::{ThresholdFile, duration};
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::Severity;
use crate::probes::https::{self, HttpsResult};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpsConfig {
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// e.g. ["https://intranet.example.com/"]
    pub urls: Vec<String>,
    /// An extra CA (PEM) to trust besides the system's, e.g. the company's internal CA.
    pub ca_file: Option<PathBuf>,
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(rename = "for", deserialize_with = "duration")]
    pub fire_after: Duration,
    #[serde(rename = "clear_for", deserialize_with = "duration")]
    pub clear_after: Duration,
    pub cert_expiry_days: ThresholdFile,
}

impl Default for HttpsConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(300),
            urls: Vec::new(),
            ca_file: None,
            timeout: Duration::from_secs(5),
            fire_after: Duration::from_secs(60),
            clear_after: Duration::ZERO,
            cert_expiry_days: ThresholdFile::default(),
        }
    }
}

pub const REACHABLE: &str = "https.reachable";
pub const CERT_EXPIRY: &str = "https.cert_expiry_days";

fn expiry_default() -> Rule {
    Rule {
        direction: Direction::Below,
        raise: 14.0,
        clear: 21.0,
        critical: Some(3.0),
        severity: Severity::Warning,
        fire_after: Duration::ZERO,
        clear_after: Duration::ZERO,
    }
}

struct HttpsCheck {
    interval: Duration,
    urls: Vec<String>,
    roots: Arc<RootCertStore>,
    timeout: Duration,
    reachable: Rule,
    expiry: Rule,
}

pub fn build(config: &HttpsConfig) -> Result<Option<Box<dyn Check>>, String> {
    if config.urls.is_empty() {
        return Ok(None);
    }
    for url in &config.urls {
        https::split_url(url).map_err(|e| format!("urls: {e}"))?;
    }
    let extra = match &config.ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let roots = https::roots(extra.as_deref()).map_err(|e| match &config.ca_file {
        Some(path) => format!("ca_file {}: {e}", path.display()),
        None => e,
    })?;
    Ok(Some(Box::new(HttpsCheck {
        interval: interval_at_least(config.interval, Duration::from_millis(100))?,
        urls: config.urls.clone(),
        roots,
        timeout: config
            .timeout
            .clamp(Duration::from_millis(100), Duration::from_secs(60)),
        reachable: Rule::boolean(Severity::Warning, config.fire_after, config.clear_after),
        expiry: config
            .cert_expiry_days
            .resolve(expiry_default())
            .map_err(|e| format!("cert_expiry_days: {e}"))?,
    })))
}

impl Check for HttpsCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(REACHABLE, self.reachable), (CERT_EXPIRY, self.expiry)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[REACHABLE, CERT_EXPIRY]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            let mut observations = Vec::new();
            for url in &self.urls {
                let result = https::check(url, self.roots.clone(), self.timeout).await;
                observations.extend(evaluate(&result, self.reachable, self.expiry));
            }
            Ok(observations)
        })
    }
}

fn evaluate(result: &HttpsResult, reachable: Rule, expiry: Rule) -> Vec<Observation> {
    let summary = match (&result.error, result.http_status) {
        (Some(error), _) => format!(
            "{} fails at {}: {error}",
            result.url,
            result.failed_stage.unwrap_or("?")
        ),
        (None, Some(status)) => format!(
            "{} answers HTTP {status} in {:.0} ms",
            result.url, result.total_ms
        ),
        (None, None) => format!("{} answers", result.url),
    };
    let certificate = result.certificate.as_ref().map(|c| {
        serde_json::json!({"subject": c.subject, "issuer": c.issuer, "not_after_unix": c.not_after_unix,
            "days_left": (c.days_left * 10.0).round() / 10.0, "names": c.names})
    });
    let mut observations = vec![Observation {
        check: REACHABLE,
        resource: result.url.clone(),
        value: if result.ok() { 0.0 } else { 1.0 },
        rule: reachable,
        summary,
        evidence: evidence! {
            "url" => result.url,
            "failed_stage" => result.failed_stage,
            "error" => result.error,
            "addresses" => result.connect.as_ref().map(|c| c.addresses.iter().map(ToString::to_string).collect::<Vec<_>>()),
            "connect_ms" => result.connect.as_ref().and_then(|c| c.connect_ms),
            "tls_ms" => result.tls_ms,
            "http_status" => result.http_status,
            "total_ms" => (result.total_ms * 10.0).round() / 10.0,
            "certificate" => certificate,
        },
    }];
    if result.certificate.is_none() {
        // No certificate seen (the connection failed first): its expiry is unknown, not fine.
        observations.push(Observation {
            check: CERT_EXPIRY,
            resource: result.url.clone(),
            value: f64::NAN,
            rule: expiry,
            summary: format!("The certificate of {} could not be read", result.url),
            evidence: evidence! { "url" => result.url },
        });
    }
    if let Some(certificate) = &result.certificate {
        let summary = if certificate.days_left < 0.0 {
            format!(
                "The certificate of {} expired {:.0} days ago",
                result.url, -certificate.days_left
            )
        } else {
            format!(
                "The certificate of {} expires in {:.0} days",
                result.url, certificate.days_left
            )
        };
        observations.push(Observation {
            check: CERT_EXPIRY,
            resource: result.url.clone(),
            value: certificate.days_left,
            rule: expiry,
            summary,
            evidence: evidence! {
                "url" => result.url,
                "subject" => certificate.subject,
                "issuer" => certificate.issuer,
                "not_after_unix" => certificate.not_after_unix,
                "days_left" => (certificate.days_left * 10.0).round() / 10.0,
            },
        });
    }
    observations
}
