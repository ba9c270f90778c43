//! The contact directory's rules, pure: what makes a person's entry valid (an OS account, a
//! name staff can address, an e-mail address, one of the languages Firstline speaks) and how a
//! CSV file of them is read. The store keeps them (`store/people.rs`).

use serde::{Deserialize, Serialize};

/// The languages users can be written to in: English, Chinese, Polish, Greek.
pub const LANGUAGES: [&str; 4] = ["en", "zh", "pl", "el"];
/// More rows than this in one import is a mistake (a wrong file), not a directory.
pub const MAX_IMPORT_ROWS: usize = 100_000;

/// One person, valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Person {
    /// The OS account, as the agent reports it (`carol`, `CORP\carol` on Windows).
    pub account: String,
    pub display_name: String,
    pub email: Option<String>,
    /// `en`, `zh`, `pl` or `el`.
    pub language: Option<String>,
}

/// What a person's entry says before it is checked: a CSV row or a REST body.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonFields {
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {value:?}: {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub value: String,
    pub reason: &'static str,
}

/// Checks an entry for `account` and returns it tidied (trimmed; the language as its base
/// tag, lowercase: `zh-CN` is `zh`). An empty e-mail or language is none; an empty name is
/// the account.
pub fn validate(account: &str, fields: &PersonFields) -> Result<Person, Invalid> {
    let invalid = |field, value: &str, reason| Invalid {
        field,
        value: value.chars().take(80).collect(),
        reason,
    };
    let account = account.trim();
    if account.is_empty() {
        return Err(invalid("account", account, "is empty"));
    }
    if account.len() > 64 || account.chars().any(char::is_control) {
        return Err(invalid(
            "account",
            account,
            "must be at most 64 bytes, without control characters",
        ));
    }
    let display_name = fields.display_name.trim();
    if display_name.len() > 200 || display_name.chars().any(char::is_control) {
        return Err(invalid(
            "display_name",
            display_name,
            "must be at most 200 bytes, without control characters",
        ));
    }
    let email = fields
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if let Some(email) = email
        && !looks_like_email(email)
    {
        return Err(invalid(
            "email",
            email,
            "is not an e-mail address (name@domain)",
        ));
    }
    let language = match fields
        .language
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        None => None,
        Some(tag) => {
            let base = tag
                .split(['-', '_'])
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !LANGUAGES.contains(&base.as_str()) {
                return Err(invalid(
                    "language",
                    tag,
                    "must be one of en, zh, pl, el (a region such as zh-CN is fine)",
                ));
            }
            Some(base)
        }
    };
    Ok(Person {
        account: account.to_owned(),
        display_name: if display_name.is_empty() {
            account.to_owned()
        } else {
            display_name.to_owned()
        },
        email: email.map(str::to_owned),
        language,
    })
}

/// Enough to catch a column mix-up or a typo, not a full RFC 5322 parser: one `@`, something
/// before it, a dotted domain after it, no spaces or control characters, at most 254 bytes.
fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Reads a directory CSV: a header row naming `account` and any of `display_name`, `email`,
/// `language` (in any order; other columns are an error, so a wrong file is not half-read).
/// Returns every person, or every problem found, each naming `source` and its line.
pub fn read_csv(source: &str, bytes: &[u8]) -> Result<Vec<Person>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(e) => return Err(vec![format!("{source}: reading the header row: {e}")]),
    };
    let mut columns = [None; 4];
    let mut problems = Vec::new();
    for (index, name) in headers.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}').to_ascii_lowercase();
        match name.as_str() {
            "account" => columns[0] = Some(index),
            "display_name" => columns[1] = Some(index),
            "email" => columns[2] = Some(index),
            "language" => columns[3] = Some(index),
            other => problems.push(format!(
                "{source} line 1: unknown column {other:?} (expected account, display_name, email, language)"
            )),
        }
    }
    let Some(account_column) = columns[0] else {
        problems.push(format!("{source} line 1: no \"account\" column"));
        return Err(problems);
    };
    let mut people: Vec<Person> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (row, record) in reader.records().enumerate() {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(row as u64 + 2, csv::Position::line);
        if people.len() + problems.len() >= MAX_IMPORT_ROWS {
            problems.push(format!(
                "{source}: more than {MAX_IMPORT_ROWS} rows; split the file"
            ));
            break;
        }
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                problems.push(format!("{source} line {line}: {e}"));
                continue;
            }
        };
        let cell = |column: Option<usize>| {
            column
                .and_then(|c| record.get(c))
                .unwrap_or_default()
                .to_owned()
        };
        let fields = PersonFields {
            display_name: cell(columns[1]),
            email: Some(cell(columns[2])),
            language: Some(cell(columns[3])),
        };
        match validate(&cell(Some(account_column)), &fields) {
            Ok(person) => {
                if let Some(first) = seen.insert(person.account.clone(), line) {
                    problems.push(format!(
                        "{source} line {line}: account {:?} is already on line {first}",
                        person.account
                    ));
                } else {
                    people.push(person);
                }
            }
            Err(e) => problems.push(format!("{source} line {line}: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(people)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str, email: &str, language: &str) -> PersonFields {
        PersonFields {
            display_name: name.to_owned(),
            email: Some(email.to_owned()),
            language: Some(language.to_owned()),
        }
    }

    #[test]
    fn entries_are_tidied_or_refused_naming_the_field() {
        let person = validate(
            " carol ",
            &fields(" Carol Smith ", "carol@example.com", "zh-CN"),
        )
        .expect("valid");
        assert_eq!(
            person,
            Person {
                account: "carol".into(),
                display_name: "Carol Smith".into(),
                email: Some("carol@example.com".into()),
                language: Some("zh".into()),
            }
        );
        // Only an account: the name is the account, the rest none.
        let bare = validate("dave", &fields("", "", "")).expect("valid");
        assert_eq!(bare.display_name, "dave");
        assert_eq!((bare.email, bare.language), (None, None));
        for (account, entry, field) in [
            ("", fields("x", "", ""), "account"),
            ("a\u{1b}[31m", fields("x", "", ""), "account"),
            ("carol", fields("Ca\nrol", "", ""), "display_name"),
            ("carol", fields("Carol", "carol.example.com", ""), "email"),
            ("carol", fields("Carol", "carol@localhost", ""), "email"),
            ("carol", fields("Carol", "ca rol@example.com", ""), "email"),
            ("carol", fields("Carol", "", "de"), "language"),
        ] {
            let error = validate(account, &entry).expect_err(field);
            assert_eq!(error.field, field, "{error}");
        }
    }

    #[test]
    fn a_csv_is_read_whole_or_refused_with_every_problem_and_its_line() {
        let good = "account,display_name,email,language\n\
                    carol,Carol Smith,carol@example.com,en\n\
                    \"CORP\\\\piotr\",\"Nowak, Piotr\",piotr@example.com,pl\n\
                    eleni,Ελένη,,el\n";
        let people = read_csv("people.csv", good.as_bytes()).expect("reads");
        assert_eq!(people.len(), 3);
        assert_eq!(people[1].display_name, "Nowak, Piotr");
        assert_eq!(people[2].display_name, "Ελένη");
        assert_eq!(people[2].email, None);
        // Columns in another order, some missing, a byte-order mark: fine.
        let reordered = "\u{feff}language,account\nel,eleni\n";
        assert_eq!(
            read_csv("x.csv", reordered.as_bytes()).expect("reads")[0].language,
            Some("el".into())
        );
        let bad = "account,display_name,email,language\n\
                   carol,Carol,carol@example.com,en\n\
                   carol,Carol again,,\n\
                   dave,Dave,not-an-address,en\n\
                   erin,Erin\n";
        let problems = read_csv("people.csv", bad.as_bytes()).expect_err("refused");
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems[0].starts_with("people.csv line 3: account \"carol\" is already on line 2")
        );
        assert!(problems[1].starts_with("people.csv line 4: email"));
        assert!(problems[2].starts_with("people.csv line 5:"));
        let wrong = "user,mail\ncarol,carol@example.com\n";
        let problems = read_csv("wrong.csv", wrong.as_bytes()).expect_err("refused");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("unknown column \"user\""))
        );
        assert!(problems.iter().any(|p| p.contains("no \"account\" column")));
    }
}
