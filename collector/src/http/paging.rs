//! Cursor paging shared by every list of `/api/v1`: `limit` (1 to 1000, default 100) and an
//! opaque `cursor` (the `next_cursor` of the previous page, `null` on the last one).
//!
//! A cursor is the hex of the sort key of the last item returned; the next page starts after
//! it, so an item removed meanwhile does not shift the pages. Small lists (users, tokens, the
//! directory) are sorted and cut here; tickets and devices are cut in SQL.

use axum::response::Response;
use serde::Deserialize;

use super::bad_parameter;

pub(crate) const PAGE_DEFAULT: u32 = 100;
pub(crate) const PAGE_MAX: u32 = 1000;

/// `limit` and `cursor`, as sent: both checked by `Paging::parse`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items at most (default 100, at most 1000).
    #[param(value_type = Option<u32>)]
    pub(crate) limit: Option<String>,
    /// Where to go on from: the `next_cursor` of the previous page.
    pub(crate) cursor: Option<String>,
}

/// A checked page request: how many, and after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Paging {
    pub(crate) limit: u32,
    pub(crate) after: Option<String>,
}

impl Paging {
    /// The page `limit` and `cursor` ask for, or the 400 naming the one that is wrong.
    #[allow(clippy::result_large_err)]
    pub(crate) fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Paging, Response> {
        Ok(Paging {
            limit: parse_limit(limit)?,
            after: cursor.map(parse_cursor).transpose()?,
        })
    }
}

/// `limit`: 1 to `PAGE_MAX`, `PAGE_DEFAULT` when absent.
#[allow(clippy::result_large_err)]
pub(crate) fn parse_limit(text: Option<&str>) -> Result<u32, Response> {
    match text {
        None => Ok(PAGE_DEFAULT),
        Some(text) => match text.parse::<u32>() {
            Ok(limit) if (1..=PAGE_MAX).contains(&limit) => Ok(limit),
            _ => Err(bad_parameter(
                "limit",
                format!("limit {text:?} must be a number from 1 to {PAGE_MAX}"),
            )),
        },
    }
}

/// The key a cursor stands for, or the 400 saying it is not one this collector gave out.
#[allow(clippy::result_large_err)]
pub(crate) fn parse_cursor(cursor: &str) -> Result<String, Response> {
    decode_hex(cursor).ok_or_else(|| {
        bad_parameter(
            "cursor",
            format!(
                "cursor {:?} is not one this collector gave out (send the next_cursor of the previous page)",
                cursor.chars().take(64).collect::<String>()
            ),
        )
    })
}

/// The opaque cursor after an item with this key: hex, so a client cannot mistake it for an
/// id or build one by hand.
pub(crate) fn cursor(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(cursor: &str) -> Option<String> {
    if cursor.is_empty() || !cursor.len().is_multiple_of(2) || cursor.len() > 1024 {
        return None;
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(cursor.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// An integer id as a key that sorts as text in the order of the numbers (ids are not
/// negative).
pub(crate) fn number_key(id: i64) -> String {
    format!("{id:020}")
}

/// One page of a whole (small) list: sorted by `key`, the items after `paging.after`, at most
/// `paging.limit` of them, and the cursor of the next page when more follow. Keys must be
/// unique.
pub(crate) fn page_of<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
    paging: &Paging,
) -> (Vec<T>, Option<String>) {
    items.sort_by_key(|item| key(item));
    if let Some(after) = &paging.after {
        items.retain(|item| key(item).as_str() > after.as_str());
    }
    let limit = paging.limit as usize;
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(|item| cursor(&key(item)));
        (items, next)
    } else {
        (items, None)
    }
}

/// Checked `limit` and `cursor` or the refusal: for handlers that take nothing else.
#[allow(clippy::result_large_err)]
pub(crate) fn paging(query: &PageQuery) -> Result<Paging, Response> {
    Paging::parse(query.limit.as_deref(), query.cursor.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_list_pages_by_key_each_item_once() {
        let items: Vec<String> = ["d", "a", "c", "b", "e"].map(str::to_owned).to_vec();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let paging = Paging { limit: 2, after };
            let (page, next) = page_of(items.clone(), |item| item.clone(), &paging);
            seen.extend(page);
            match next {
                Some(next) => after = Some(parse_cursor(&next).expect("our cursor")),
                None => break,
            }
        }
        assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn limits_and_cursors_that_are_not_ours_are_refused() {
        for limit in ["0", "1001", "-1", "ten", ""] {
            assert!(parse_limit(Some(limit)).is_err(), "{limit}");
        }
        assert_eq!(parse_limit(None).ok(), Some(PAGE_DEFAULT));
        assert_eq!(parse_limit(Some("1000")).ok(), Some(1000));
        for bad in ["", "zz", "abc", "ff"] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_cursor(&cursor("tina")).ok().as_deref(), Some("tina"));
        assert!(number_key(9) < number_key(10));
    }
}
