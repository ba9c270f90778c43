//! The catalogs are complete: every message in every language, with the same arguments.

use std::collections::{BTreeMap, BTreeSet};

use fluent_syntax::ast;

use super::*;

/// A catalog's messages: id → (variables placed in the text, variables only selected on).
fn messages(lang: Lang, source: &str) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let resource = match fluent_syntax::parser::parse(source) {
        Ok(resource) => resource,
        Err((_, errors)) => panic!("{lang}.ftl does not parse: {errors:?}"),
    };
    let mut found = BTreeMap::new();
    for entry in resource.body {
        match entry {
            ast::Entry::Message(message) => {
                let id = message.id.name.to_owned();
                let value = message
                    .value
                    .unwrap_or_else(|| panic!("{lang}.ftl: {id} has no text"));
                let mut placed = BTreeSet::new();
                let mut selected = BTreeSet::new();
                walk(&value, &mut placed, &mut selected);
                let text = format!("{value:?}");
                assert!(!text.trim().is_empty(), "{lang}.ftl: {id} is empty");
                assert!(
                    found.insert(id.clone(), (placed, selected)).is_none(),
                    "{lang}.ftl: {id} is there twice"
                );
            }
            ast::Entry::Term(_) | ast::Entry::Comment(_) => {}
            ast::Entry::GroupComment(_) | ast::Entry::ResourceComment(_) => {}
            ast::Entry::Junk { content } => panic!("{lang}.ftl: cannot read {content:?}"),
        }
    }
    found
}

fn walk(
    pattern: &ast::Pattern<&str>,
    placed: &mut BTreeSet<String>,
    selected: &mut BTreeSet<String>,
) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_vars(expression, placed, selected);
        }
    }
}

fn expression_vars(
    expression: &ast::Expression<&str>,
    placed: &mut BTreeSet<String>,
    selected: &mut BTreeSet<String>,
) {
    match expression {
        ast::Expression::Inline(inline) => inline_vars(inline, placed, selected),
        ast::Expression::Select { selector, variants } => {
            let mut selector_placed = BTreeSet::new();
            inline_vars(selector, &mut selector_placed, selected);
            selected.extend(selector_placed);
            for variant in variants {
                walk(&variant.value, placed, selected);
            }
        }
    }
}

fn inline_vars(
    inline: &ast::InlineExpression<&str>,
    placed: &mut BTreeSet<String>,
    selected: &mut BTreeSet<String>,
) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            placed.insert(id.name.to_owned());
        }
        ast::InlineExpression::Placeable { expression } => {
            expression_vars(expression, placed, selected);
        }
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            for argument in &arguments.positional {
                inline_vars(argument, placed, selected);
            }
        }
        _ => {}
    }
}

#[test]
fn every_message_is_in_every_language_with_the_same_arguments() {
    let english = messages(Lang::En, CATALOGS[0].1);
    assert!(!english.is_empty(), "the English catalog is empty");
    let mut problems = Vec::new();
    for (lang, source) in &CATALOGS[1..] {
        let translated = messages(*lang, source);
        for (id, (placed, selected)) in &english {
            let Some((their_placed, their_selected)) = translated.get(id) else {
                problems.push(format!("{lang}.ftl lacks {id}"));
                continue;
            };
            let theirs: BTreeSet<_> = their_placed.union(their_selected).cloned().collect();
            let ours: BTreeSet<_> = placed.union(selected).cloned().collect();
            // What English shows, the translation shows (a number only chosen on may be left out).
            for variable in placed {
                if !theirs.contains(variable) {
                    problems.push(format!("{lang}.ftl: {id} leaves out ${variable}"));
                }
            }
            for variable in theirs.difference(&ours) {
                problems.push(format!(
                    "{lang}.ftl: {id} uses ${variable}, which English does not give"
                ));
            }
        }
        for id in translated.keys() {
            if !english.contains_key(id) {
                problems.push(format!("{lang}.ftl has {id}, which en.ftl lacks"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the catalogs are not complete:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_message_formats_in_every_language_without_errors() {
    let english = messages(Lang::En, CATALOGS[0].1);
    for lang in Lang::ALL {
        let bundle = &bundles()[index(lang)];
        for (id, (placed, selected)) in &english {
            for count in [0.0, 1.0, 2.0, 5.0, 22.0] {
                let mut args = FluentArgs::new();
                for variable in placed.union(selected) {
                    args.set(variable.as_str(), FluentValue::from(count));
                }
                let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
                    continue; // the completeness test names it
                };
                let mut errors = Vec::new();
                let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
                assert!(errors.is_empty(), "{lang}: {id} with {count}: {errors:?}");
                assert!(!text.trim().is_empty(), "{lang}: {id} is empty");
            }
        }
    }
}

#[test]
fn a_missing_message_falls_back_to_english_then_to_its_id() {
    assert_eq!(
        text(Lang::El, &Message::new("no-such-message")),
        "no-such-message"
    );
    let message = msg!("language-name");
    assert_eq!(message.text(Lang::El), "Ελληνικά");
    assert_eq!(message.text(Lang::En), "English");
}

#[test]
fn numbers_choose_plural_forms() {
    let one = msg!("report-count", "count" => 1).text(Lang::Pl);
    let few = msg!("report-count", "count" => 3).text(Lang::Pl);
    let many = msg!("report-count", "count" => 5).text(Lang::Pl);
    assert_ne!(one, few);
    assert_ne!(few, many);
    assert!(few.contains('3') && many.contains('5'), "{few} / {many}");
}

#[test]
fn browsers_and_locales_choose_a_language() {
    assert_eq!(
        Lang::from_accept_language("el-GR,el;q=0.9,en;q=0.8"),
        Some(Lang::El)
    );
    assert_eq!(
        Lang::from_accept_language("de-DE,de;q=0.9,pl;q=0.5,en;q=0.4"),
        Some(Lang::Pl)
    );
    assert_eq!(
        Lang::from_accept_language("en;q=0.2, zh-CN"),
        Some(Lang::Zh)
    );
    assert_eq!(Lang::from_accept_language("el;q=0, en"), Some(Lang::En));
    assert_eq!(Lang::from_accept_language("de, fr"), None);
    assert_eq!(Lang::from_accept_language("el;q=bogus, pl"), Some(Lang::Pl));
    assert_eq!(Lang::from_accept_language(""), None);
    assert_eq!(
        Lang::from_locale_vars(None, None, None, Some("pl_PL.UTF-8")),
        Some(Lang::Pl)
    );
    assert_eq!(
        Lang::from_locale_vars(None, Some("zh_CN.UTF-8"), None, Some("pl_PL.UTF-8")),
        Some(Lang::Zh)
    );
    assert_eq!(
        Lang::from_locale_vars(None, Some(""), Some("el_GR"), Some("pl_PL")),
        Some(Lang::El)
    );
    assert_eq!(
        Lang::from_locale_vars(Some("de:el"), None, None, Some("pl_PL.UTF-8")),
        Some(Lang::El)
    );
    assert_eq!(
        Lang::from_locale_vars(Some("el"), None, None, Some("C.UTF-8")),
        None
    );
    assert_eq!(Lang::from_locale_vars(None, None, None, None), None);
    assert_eq!(Lang::parse("ZH_tw.Big5"), Some(Lang::Zh));
}

#[test]
fn messages_travel_as_json() {
    let message = msg!("report-count", "count" => 3, "device" => "pc-7");
    let json = serde_json::to_string(&message).expect("serialize");
    let back: Message = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, message);
    let bare: Message = serde_json::from_str(r#"{"id":"language-name"}"#).expect("parse");
    assert_eq!(bare.text(Lang::Zh), "中文");
}
