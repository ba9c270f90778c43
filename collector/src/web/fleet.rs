//! `/fleet` (admins): groups of devices, the policies attached to them and, per config
//! version, how many devices run it or refused it; each policy's page edits it (checked by
//! the agent's own rules), rolls a change out to canaries first, promotes it, shows every
//! version with what changed and who changed it, and rolls back to any of them.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::frame::Staff;
use super::html::{esc, when};
use super::{csrf_field, problem, signed_in, signed_in_form, signed_page, unavailable};
use crate::http::HttpState;
use crate::model::{Role, now_ms};
use crate::store::fleet::{FleetError, GroupRule, Rollout};

/// Only admins see or change the fleet's configuration.
fn admin_only(staff: &Staff) -> Option<Response> {
    (staff.caller.role != Role::Admin).then(|| {
        problem(
            Some(staff),
            StatusCode::FORBIDDEN,
            &staff.t("staff-fleet-admins-only"),
        )
    })
}

/// The admin who sent a form, or the answer for anyone else (signed out, no CSRF token,
/// not an admin).
async fn admin_form(
    state: &HttpState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Staff, Response> {
    let staff = signed_in_form(state, headers, form).await?;
    match admin_only(&staff) {
        Some(refusal) => Err(refusal),
        None => Ok(staff),
    }
}

/// After a change to groups or policies: every session here looks again, and the admin goes
/// back to the page `to` names; or the refusal.
fn changed<T>(
    state: &HttpState,
    staff: &Staff,
    outcome: Result<T, FleetError>,
    to: impl FnOnce(&T) -> String,
    doing: &str,
) -> Response {
    match outcome {
        Ok(value) => {
            state.sessions.nudge_all();
            Redirect::to(&to(&value)).into_response()
        }
        Err(e) => refused(staff, e, doing),
    }
}

/// A refusal in the reader's words where they are the store's (the field and the reason
/// the agent's own rules give are technical and stay as they are).
fn refused(staff: &Staff, e: FleetError, doing: &str) -> Response {
    match e {
        FleetError::Refused(refusal) => problem(
            Some(staff),
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{}: {}", staff.t("staff-fleet-refused"), refusal),
        ),
        FleetError::Store(e) => unavailable(staff, doing, &e),
    }
}

/// `GET /fleet`.
pub(super) async fn page(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    if let Some(refusal) = admin_only(&staff) {
        return refusal;
    }
    let (groups, policies, versions) = match (
        state.store.groups().await,
        state.store.policies().await,
        state.store.config_versions().await,
    ) {
        (Ok(g), Ok(p), Ok(v)) => (g, p, v),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return unavailable(&staff, "fleet page", &e);
        }
    };
    let l = |id: &str| esc(&staff.t(id));
    let csrf = csrf_field(&staff.csrf);
    let mut body = format!(
        "<h1>{}</h1><p class=\"muted\">{}</p>",
        l("staff-fleet-heading"),
        l("staff-fleet-explain")
    );
    let _ = write!(
        body,
        "<h2>{}</h2><table id=\"policies\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        l("staff-fleet-policies"),
        l("staff-fleet-name"),
        l("staff-fleet-group"),
        l("staff-fleet-precedence"),
        l("staff-fleet-version"),
        l("staff-fleet-updated"),
    );
    for policy in &policies {
        let rolling = match policy.stable_version {
            Some(stable) => format!(
                " <span class=\"badge\">{}</span>",
                esc(&staff.say(&firstline_i18n::msg!("staff-fleet-rolling",
                    "stable" => stable, "canaries" => policy.canaries.len())))
            ),
            None => String::new(),
        };
        let _ = write!(
            body,
            "<tr><td><a href=\"/fleet/policies/{}\">{}</a></td><td>{}</td><td>{}</td><td>v{}{rolling}</td><td>{}</td></tr>",
            policy.id,
            esc(&policy.name),
            esc(&policy.group),
            policy.precedence,
            policy.version,
            when(policy.updated_at_ms),
        );
    }
    body.push_str("</table>");
    let _ = write!(
        body,
        "<h2>{}</h2><table id=\"config-versions\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        l("staff-fleet-versions"),
        l("staff-fleet-version"),
        l("staff-fleet-running"),
        l("staff-fleet-refusing"),
    );
    for (version, running, refusing) in &versions {
        let _ = write!(
            body,
            "<tr><td><code>{}</code></td><td>{running}</td><td>{refusing}</td></tr>",
            esc(version)
        );
    }
    body.push_str("</table>");
    let _ = write!(
        body,
        "<h2>{}</h2><table id=\"groups\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        l("staff-fleet-groups"),
        l("staff-fleet-name"),
        l("staff-fleet-members"),
        l("staff-fleet-created-by"),
    );
    for group in &groups {
        let members = match &group.rule {
            GroupRule::Site { site } => {
                staff.say(&firstline_i18n::msg!("staff-fleet-rule-site", "site" => site.as_str()))
            }
            GroupRule::Rule {
                hostname_pattern,
                os_contains,
            } => staff.say(&firstline_i18n::msg!("staff-fleet-rule-rule",
                "pattern" => hostname_pattern.as_deref().unwrap_or("*"),
                "os" => os_contains.as_deref().unwrap_or("*"))),
            GroupRule::Manual { devices } => staff
                .say(&firstline_i18n::msg!("staff-fleet-rule-manual", "count" => devices.len())),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&group.name),
            esc(&members),
            esc(&group.created_by)
        );
    }
    body.push_str("</table>");
    // New group.
    let _ = write!(
        body,
        "<h2>{}</h2><form method=\"post\" action=\"/fleet/groups\" class=\"card\">{csrf}\
         <label>{}<br><input name=\"name\" id=\"group-name\" required></label> \
         <label>{}<br><select name=\"kind\" id=\"group-kind\"><option value=\"site\">{}</option><option value=\"rule\">{}</option><option value=\"manual\">{}</option></select></label> \
         <label>{}<br><input name=\"value\" id=\"group-value\" placeholder=\"warsaw · waw-* · d1 d2\"></label> \
         <label>{}<br><input name=\"os\" id=\"group-os\" placeholder=\"Windows\"></label> \
         <button type=\"submit\">{}</button></form>",
        l("staff-fleet-new-group"),
        l("staff-fleet-name"),
        l("staff-fleet-kind"),
        l("staff-fleet-kind-site"),
        l("staff-fleet-kind-rule"),
        l("staff-fleet-kind-manual"),
        l("staff-fleet-group-value"),
        l("staff-fleet-group-os"),
        l("staff-fleet-add"),
    );
    // New policy.
    let mut group_options = String::new();
    for group in &groups {
        let _ = write!(
            group_options,
            "<option value=\"{0}\">{0}</option>",
            esc(&group.name)
        );
    }
    let _ = write!(
        body,
        "<h2>{}</h2><form method=\"post\" action=\"/fleet/policies\" class=\"card\">{csrf}\
         <label>{}<br><input name=\"name\" id=\"policy-name\" required></label> \
         <label>{}<br><select name=\"group\" id=\"policy-group\">{group_options}</select></label> \
         <label>{}<br><input name=\"precedence\" type=\"number\" value=\"0\" min=\"-1000\" max=\"1000\"></label><br>\
         <label>{}<br><textarea name=\"toml\" id=\"policy-toml\" rows=\"8\" required placeholder=\"[checks.dns]&#10;names = [&quot;intranet.example.com&quot;]\"></textarea></label><br>\
         <label>{}<br><input name=\"note\" id=\"policy-note\"></label> \
         <button type=\"submit\">{}</button></form>",
        l("staff-fleet-new-policy"),
        l("staff-fleet-name"),
        l("staff-fleet-group"),
        l("staff-fleet-precedence"),
        l("staff-fleet-settings"),
        l("staff-fleet-note"),
        l("staff-fleet-add"),
    );
    signed_page(&staff, &staff.t("staff-fleet-heading"), &body, None)
}

/// `POST /fleet/groups`.
pub(super) async fn add_group(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staff = match admin_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let field = |key: &str| {
        form.get(key)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let value = field("value");
    let rule = match field("kind").as_str() {
        "site" => GroupRule::Site { site: value },
        "rule" => GroupRule::Rule {
            hostname_pattern: Some(value).filter(|v| !v.is_empty()),
            os_contains: Some(field("os")).filter(|v| !v.is_empty()),
        },
        _ => GroupRule::Manual {
            devices: value.split_whitespace().map(str::to_owned).collect(),
        },
    };
    let outcome = state
        .store
        .add_group(&field("name"), &rule, &staff.caller.name, now_ms())
        .await;
    changed(
        &state,
        &staff,
        outcome,
        |_| "/fleet".to_owned(),
        "adding a group",
    )
}

/// `POST /fleet/policies`: a new policy.
pub(super) async fn add_policy(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staff = match admin_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    let precedence = field("precedence").trim().parse::<i64>().unwrap_or(0);
    let outcome = state
        .store
        .save_policy(
            None,
            &field("name"),
            &field("group"),
            precedence,
            &field("toml"),
            field("note").trim(),
            None,
            &staff.caller.name,
            now_ms(),
        )
        .await;
    changed(
        &state,
        &staff,
        outcome,
        |policy| format!("/fleet/policies/{}", policy.id),
        "adding a policy",
    )
}

/// `GET /fleet/policies/{id}`.
pub(super) async fn policy_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    if let Some(refusal) = admin_only(&staff) {
        return refusal;
    }
    let (policies, versions, groups) = match (
        state.store.policies().await,
        state.store.policy_versions(id).await,
        state.store.groups().await,
    ) {
        (Ok(p), Ok(v), Ok(g)) => (p, v, g),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return unavailable(&staff, "policy page", &e);
        }
    };
    let Some(policy) = policies.into_iter().find(|p| p.id == id) else {
        return problem(
            Some(&staff),
            StatusCode::NOT_FOUND,
            &staff.t("staff-fleet-no-policy"),
        );
    };
    let l = |id: &str| esc(&staff.t(id));
    let csrf = csrf_field(&staff.csrf);
    let mut body = format!(
        "<h1>{}</h1><p>{}: {} · {}: {} · v{}</p>",
        esc(&policy.name),
        l("staff-fleet-group"),
        esc(&policy.group),
        l("staff-fleet-precedence"),
        policy.precedence,
        policy.version
    );
    if let Some(stable) = policy.stable_version {
        let _ = write!(
            body,
            "<div class=\"card warning\" id=\"rollout\"><p>{}</p><p class=\"muted\">{}</p>\
             <form method=\"post\" action=\"/fleet/policies/{id}/promote\" class=\"inline\">{csrf}<button type=\"submit\" id=\"promote\">{}</button></form></div>",
            esc(&staff.say(&firstline_i18n::msg!("staff-fleet-rolling-long",
                "version" => policy.version, "stable" => stable, "canaries" => policy.canaries.len()))),
            esc(&policy.canaries.join(", ")),
            l("staff-fleet-promote"),
        );
    }
    let mut canary_groups = String::from("<option value=\"\">—</option>");
    for group in &groups {
        let _ = write!(
            canary_groups,
            "<option value=\"{0}\">{0}</option>",
            esc(&group.name)
        );
    }
    let _ = write!(
        body,
        "<h2>{}</h2><form method=\"post\" action=\"/fleet/policies/{id}\" class=\"card\">{csrf}\
         <label>{}<br><textarea name=\"toml\" id=\"policy-toml\" rows=\"12\" required>{}</textarea></label><br>\
         <label>{}<br><input name=\"note\" id=\"policy-note\"></label><br>\
         <fieldset><legend>{}</legend><label>{}<br><input name=\"canary_percent\" id=\"canary-percent\" type=\"number\" min=\"0\" max=\"100\" placeholder=\"0\"></label> \
         <label>{}<br><select name=\"canary_group\" id=\"canary-group\">{canary_groups}</select></label></fieldset>\
         <button type=\"submit\" id=\"save-policy\">{}</button></form>",
        l("staff-fleet-change"),
        l("staff-fleet-settings"),
        esc(&policy.toml),
        l("staff-fleet-note"),
        l("staff-fleet-canary"),
        l("staff-fleet-canary-percent"),
        l("staff-fleet-canary-group"),
        l("staff-fleet-save"),
    );
    let _ = write!(
        body,
        "<h2>{}</h2><table id=\"versions\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr>",
        l("staff-fleet-history"),
        l("staff-fleet-version"),
        l("staff-fleet-by"),
        l("staff-fleet-note"),
        l("staff-fleet-changes"),
    );
    for (index, version) in versions.iter().enumerate() {
        let before = versions.get(index + 1).map_or("", |v| v.toml.as_str());
        let back = if version.version == policy.version {
            String::new()
        } else {
            format!(
                "<form method=\"post\" action=\"/fleet/policies/{id}/rollback\" class=\"inline\">{csrf}<input type=\"hidden\" name=\"version\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                version.version,
                l("staff-fleet-roll-back"),
            )
        };
        let _ = write!(
            body,
            "<tr><td>v{}</td><td>{}<br><span class=\"muted\">{}</span></td><td>{}</td><td><pre class=\"diff\">{}</pre></td><td>{back}</td></tr>",
            version.version,
            esc(&version.author),
            when(version.at_ms),
            esc(&version.note),
            esc(&crate::store::fleet::diff(before, &version.toml)),
        );
    }
    body.push_str("</table>");
    signed_page(&staff, &policy.name, &body, None)
}

/// `POST /fleet/policies/{id}`: a new version, to everyone or to canaries first.
pub(super) async fn change_policy(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staff = match admin_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    let Some(policy) = state
        .store
        .policies()
        .await
        .ok()
        .and_then(|p| p.into_iter().find(|p| p.id == id))
    else {
        return problem(
            Some(&staff),
            StatusCode::NOT_FOUND,
            &staff.t("staff-fleet-no-policy"),
        );
    };
    let percent_text = field("canary_percent");
    let percent = match percent_text.trim() {
        "" => 0,
        text => match text.trim_end_matches('%').trim().parse::<u8>() {
            Ok(percent) if percent <= 100 => percent,
            _ => {
                // Never a rollout to everyone by a typo.
                return problem(
                    Some(&staff),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &staff.say(&firstline_i18n::msg!("staff-fleet-bad-percent", "value" => text)),
                );
            }
        },
    };
    let canary_group = Some(field("canary_group").trim().to_owned()).filter(|g| !g.is_empty());
    let rollout = (percent > 0 || canary_group.is_some()).then_some(Rollout {
        percent,
        group: canary_group,
    });
    let outcome = state
        .store
        .save_policy(
            Some(id),
            &policy.name,
            &policy.group,
            policy.precedence,
            &field("toml"),
            field("note").trim(),
            rollout.as_ref(),
            &staff.caller.name,
            now_ms(),
        )
        .await;
    changed(
        &state,
        &staff,
        outcome,
        |_| format!("/fleet/policies/{id}"),
        "changing a policy",
    )
}

/// `POST /fleet/policies/{id}/promote`.
pub(super) async fn promote(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staff = match admin_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let outcome = state.store.promote_policy(id, now_ms()).await;
    changed(
        &state,
        &staff,
        outcome,
        |_| format!("/fleet/policies/{id}"),
        "promoting a policy",
    )
}

/// `POST /fleet/policies/{id}/rollback`.
pub(super) async fn roll_back(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staff = match admin_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let version = form
        .get("version")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let outcome = state
        .store
        .roll_back_policy(id, version, &staff.caller.name, now_ms())
        .await;
    changed(
        &state,
        &staff,
        outcome,
        |_| format!("/fleet/policies/{id}"),
        "rolling back a policy",
    )
}
