//! What people read, in their language. One Fluent catalog per language (`locales/*.ftl`, with
//! the staff workspace's `locales/staff/*.ftl` and the ticket titles' `locales/titles/*.ftl`,
//! compiled in), the language chosen from what the person's browser or OS says, and
//! [`Message`]: a message id with its arguments, which travels (in evidence, over the wire)
//! and is put into words only where someone reads it, in their language.
//!
//! A message missing from a catalog falls back to English, and one missing from English
//! shows its id: a gap is visible, never a panic. The tests keep every catalog complete.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use serde::{Deserialize, Serialize};

/// The languages Firstline speaks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Zh,
    Pl,
    El,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Zh, Lang::Pl, Lang::El];

    /// The language's code: `en`, `zh`, `pl`, `el`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
            Lang::Pl => "pl",
            Lang::El => "el",
        }
    }

    /// The language's own name for itself, for a language menu.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "中文",
            Lang::Pl => "Polski",
            Lang::El => "Ελληνικά",
        }
    }

    /// A language tag or POSIX locale: `el`, `el-GR`, `zh_CN.UTF-8`, `pl_PL@euro`. Only the
    /// primary language counts; case does not. `None` for other languages and for `C`/`POSIX`.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag
            .trim()
            .split(['-', '_', '.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            "pl" => Some(Lang::Pl),
            "el" => Some(Lang::El),
            _ => None,
        }
    }

    /// The browser's choice: the first language of an `Accept-Language` header we speak, by
    /// its q-value (`q=0` means "not this one"). `None` when it names none of ours.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, usize, Lang)> = None;
        for (position, item) in header.split(',').take(32).enumerate() {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let mut quality = 1000u16;
            for parameter in parts {
                if let Some(value) = parameter.trim().strip_prefix("q=") {
                    quality = parse_quality(value).unwrap_or(0);
                }
            }
            if quality == 0 {
                continue;
            }
            // Higher quality wins; among equals, the one named first.
            let better = match best {
                None => true,
                Some((q, _, _)) => quality > q,
            };
            if better {
                best = Some((quality, position, lang));
            }
        }
        best.map(|(_, _, lang)| lang)
    }

    /// The OS user's choice from the POSIX variables, in their order of precedence
    /// (`LC_ALL`, then `LC_MESSAGES`, then `LANG`; `LANGUAGE`'s list first when set, as
    /// gettext does). Empty values are skipped. `None` when none names one of ours.
    pub fn from_locale_vars(
        language: Option<&str>,
        lc_all: Option<&str>,
        lc_messages: Option<&str>,
        lang: Option<&str>,
    ) -> Option<Lang> {
        let chosen = [lc_all, lc_messages, lang]
            .into_iter()
            .flatten()
            .find(|value| !value.trim().is_empty())?;
        // gettext ignores LANGUAGE when the locale is C.
        let is_c = matches!(chosen.trim(), "C" | "POSIX") || chosen.starts_with("C.");
        if !is_c
            && let Some(list) = language
            && let Some(lang) = list.split(':').find_map(Lang::parse)
        {
            return Some(lang);
        }
        Lang::parse(chosen)
    }

    /// [`Lang::from_locale_vars`] with this process's environment.
    pub fn from_environment() -> Option<Lang> {
        let var = |name: &str| std::env::var(name).ok();
        Lang::from_locale_vars(
            var("LANGUAGE").as_deref(),
            var("LC_ALL").as_deref(),
            var("LC_MESSAGES").as_deref(),
            var("LANG").as_deref(),
        )
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

fn parse_quality(value: &str) -> Option<u16> {
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if whole == "1" {
        return Some(1000);
    }
    if whole != "0" || fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = fraction.to_owned();
    while digits.len() < 3 {
        digits.push('0');
    }
    digits.parse().ok()
}

/// An argument of a message: text or a number (numbers choose plural forms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    Number(f64),
    Text(String),
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(value.to_owned())
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(value)
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Self {
        Arg::Text(value.clone())
    }
}

macro_rules! number_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn from(value: $t) -> Self {
                Arg::Number(value as f64)
            }
        }
    )*};
}
number_arg!(u8, u16, u32, u64, usize, i32, i64, f32, f64);

/// A message to put into words where it is read: its catalog id and arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Cow<'static, str>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, Arg>,
}

impl Message {
    pub fn new(id: &'static str) -> Self {
        Message {
            id: Cow::Borrowed(id),
            args: BTreeMap::new(),
        }
    }

    /// The same message with one more argument.
    #[must_use]
    pub fn arg(mut self, name: &str, value: impl Into<Arg>) -> Self {
        self.args.insert(name.to_owned(), value.into());
        self
    }

    /// This message in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        text(lang, self)
    }
}

/// Shorthand: `msg!("report-sent", "number" => 42)`.
#[macro_export]
macro_rules! msg {
    ($id:expr $(, $name:expr => $value:expr)* $(,)?) => {
        $crate::Message::new($id)$(.arg($name, $value))*
    };
}

/// Each language's catalog, one Fluent resource: the words for the people Firstline helps
/// (`locales/LANG.ftl`), then the staff workspace's (`locales/staff/LANG.ftl`), then ticket
/// titles (`locales/titles/LANG.ftl`).
macro_rules! catalog {
    ($lang:literal) => {
        concat!(
            include_str!(concat!("../locales/", $lang, ".ftl")),
            "\n",
            include_str!(concat!("../locales/staff/", $lang, ".ftl")),
            "\n",
            include_str!(concat!("../locales/titles/", $lang, ".ftl"))
        )
    };
}

const CATALOGS: [(Lang, &str); 4] = [
    (Lang::En, catalog!("en")),
    (Lang::Zh, catalog!("zh")),
    (Lang::Pl, catalog!("pl")),
    (Lang::El, catalog!("el")),
];

type Bundle = FluentBundle<FluentResource>;

fn bundles() -> &'static [Bundle; 4] {
    static BUNDLES: OnceLock<[Bundle; 4]> = OnceLock::new();
    BUNDLES.get_or_init(|| CATALOGS.map(|(lang, source)| bundle(lang, source)))
}

fn bundle(lang: Lang, source: &str) -> Bundle {
    let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Plain text: no Unicode isolation marks around arguments (HTML escapes them anyway).
    bundle.set_use_isolating(false);
    // A catalog with a syntax error keeps the messages it could read; the test fails on it.
    let resource = match FluentResource::try_new(source.to_owned()) {
        Ok(resource) => resource,
        Err((resource, _errors)) => resource,
    };
    // Duplicate ids keep the first; the test fails on them.
    let _ = bundle.add_resource(resource);
    bundle
}

fn index(lang: Lang) -> usize {
    match lang {
        Lang::En => 0,
        Lang::Zh => 1,
        Lang::Pl => 2,
        Lang::El => 3,
    }
}

/// `message` in `lang`, falling back to English, then to its id.
pub fn text(lang: Lang, message: &Message) -> String {
    let mut args = FluentArgs::new();
    for (name, value) in &message.args {
        match value {
            Arg::Number(number) => args.set(name.as_str(), FluentValue::from(*number)),
            Arg::Text(text) => args.set(name.as_str(), FluentValue::from(text.as_str())),
        }
    }
    for lang in [lang, Lang::En] {
        let bundle = &bundles()[index(lang)];
        if let Some(pattern) = bundle.get_message(&message.id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            return bundle
                .format_pattern(pattern, Some(&args), &mut errors)
                .into_owned();
        }
    }
    message.id.to_string()
}

/// A message without arguments in `lang` (the id may be made at run time, e.g.
/// `help-status-{state}`; one not in the catalogs shows as itself).
pub fn tr(lang: Lang, id: &str) -> String {
    text(
        lang,
        &Message {
            id: Cow::Owned(id.to_owned()),
            args: BTreeMap::new(),
        },
    )
}

/// Whether `id` is in the English catalog (every catalog, once the tests pass).
pub fn exists(id: &str) -> bool {
    bundles()[0].has_message(id)
}

#[cfg(test)]
mod tests;
