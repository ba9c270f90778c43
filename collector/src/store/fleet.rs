//! Fleet configuration (issue 15): device groups, policies in `agent.toml`'s own schema (each
//! change a new version: the audit trail), a device's effective config (its groups' policies
//! laid one over the other, by precedence) and what each device says it runs.
//!
//! A policy is checked by the agent's own code (`firstline_agent::fleet`) before it is kept:
//! one schema, not two.

use sqlx::Row;

use super::{Backend, Store, StoreError};

/// Longest group or policy name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most groups and policies kept (each is read whenever a device's config is worked out).
pub const MAX_GROUPS: i64 = 1000;
/// The longest policy (an agent takes at most 256 KiB of fleet config in all).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// How a group finds its devices.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum GroupRule {
    /// The devices whose config says they are at `site`.
    Site { site: String },
    /// Devices whose hostname matches `hostname_pattern` (`*` any run of characters, `?` one;
    /// case does not matter) and whose OS name contains `os_contains`; either may be absent.
    Rule {
        #[serde(default)]
        hostname_pattern: Option<String>,
        #[serde(default)]
        os_contains: Option<String>,
    },
    /// The devices named.
    Manual {
        #[serde(default)]
        devices: Vec<String>,
    },
}

/// A group of devices.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Group {
    pub id: i64,
    pub name: String,
    #[serde(flatten)]
    pub rule: GroupRule,
    pub created_by: String,
    pub created_at_ms: i64,
}

/// What a device is, as groups see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceTraits {
    pub id: String,
    pub hostname: String,
    pub site: String,
    pub os_name: String,
}

impl Group {
    /// Whether `device` is in this group.
    pub fn contains(&self, device: &DeviceTraits) -> bool {
        match &self.rule {
            GroupRule::Site { site } => device.site.eq_ignore_ascii_case(site),
            GroupRule::Rule {
                hostname_pattern,
                os_contains,
            } => {
                hostname_pattern
                    .as_deref()
                    .is_none_or(|pattern| wildcard(pattern, &device.hostname))
                    && os_contains
                        .as_deref()
                        .is_none_or(|os| device.os_name.to_lowercase().contains(&os.to_lowercase()))
            }
            GroupRule::Manual { devices } => devices.contains(&device.id),
        }
    }
}

/// `pattern` (`*` any run, `?` one character) matches all of `text`, case aside.
fn wildcard(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    // Iterative matching with one backtrack point per star: linear enough for hostnames.
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// A policy and the version in force.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Policy {
    pub id: i64,
    pub name: String,
    pub group_id: i64,
    pub group: String,
    /// Higher wins where two policies of a device set the same key.
    pub precedence: i64,
    pub version: i64,
    /// The settings, in `agent.toml`'s schema.
    pub toml: String,
    pub updated_at_ms: i64,
    /// While a new version rolls out: the version every device but the canaries runs.
    pub stable_version: Option<i64>,
    #[serde(skip)]
    pub stable_toml: Option<String>,
    /// The canaries: devices picked when the rollout started, and a canary group's.
    pub canaries: Vec<String>,
    pub canary_group: Option<String>,
}

/// How a new version goes out: first to `percent` of the group's devices (picked now,
/// at least one) and to the devices of `group`, the rest staying on the version before
/// until it is promoted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    #[serde(default)]
    pub percent: u8,
    #[serde(default)]
    pub group: Option<String>,
}

/// One version of a policy: the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PolicyVersion {
    pub version: i64,
    pub toml: String,
    pub author: String,
    pub at_ms: i64,
    pub note: String,
}

/// The config a device should run: its policies laid over each other.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EffectiveConfig {
    /// A digest of `toml` ("" when no policy applies: the device's local file alone).
    pub version: String,
    pub toml: String,
    /// The policies that made it, lowest precedence first (`name@version`).
    pub policies: Vec<String>,
}

/// What a device says about its fleet config.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ConfigReport {
    /// The version it runs ("" for none).
    pub version: Option<String>,
    /// The last version it refused, and why.
    pub refused_version: Option<String>,
    pub error: Option<String>,
    pub reported_at_ms: Option<i64>,
}

/// Why a group or policy was refused: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FleetRefusal {
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(transparent)]
    Refused(#[from] FleetRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for FleetError {
    fn from(error: sqlx::Error) -> Self {
        FleetError::Store(StoreError::Database(error))
    }
}

fn refuse(field: &'static str, message: impl Into<String>) -> FleetError {
    FleetError::Refused(FleetRefusal {
        field,
        message: message.into(),
    })
}

/// A name staff typed: trimmed, not empty, not too long, no control characters.
fn check_name(field: &'static str, name: &str) -> Result<String, FleetError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(refuse(
            field,
            format!("must be 1 to {MAX_NAME_CHARS} characters without control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// A policy's settings, checked by the agent's own rules.
pub fn check_policy_toml(toml: &str) -> Result<(), FleetRefusal> {
    firstline_agent::fleet::validate(toml).map_err(|message| FleetRefusal {
        field: "toml",
        message,
    })
}

/// Lays the policies' settings over each other, lowest precedence first, into one config.
pub fn effective(policies: &[&Policy]) -> EffectiveConfig {
    if policies.is_empty() {
        return EffectiveConfig {
            version: String::new(),
            toml: String::new(),
            policies: Vec::new(),
        };
    }
    let mut text = String::new();
    for policy in policies {
        // Each was checked on its own when it was kept; laying two never fails to read.
        text = firstline_agent::fleet::layered(&text, &policy.toml).unwrap_or(text);
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let version: String = digest.as_ref()[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    EffectiveConfig {
        version,
        toml: text,
        policies: policies
            .iter()
            .map(|policy| format!("{}@{}", policy.name, policy.version))
            .collect(),
    }
}

/// What changed between two versions of a policy, line by line (`-` gone, `+` new).
pub fn diff(before: &str, after: &str) -> String {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    // The table is old × new lines: past a million cells, the whole text is shown replaced.
    if old.len().saturating_mul(new.len()) > 1_000_000 {
        let mut out = String::new();
        for line in &old {
            out.push_str(&format!("- {line}\n"));
        }
        for line in &new {
            out.push_str(&format!("+ {line}\n"));
        }
        return out;
    }
    // Longest common subsequence over lines: policies are short.
    let mut lcs = vec![vec![0u32; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            i += 1;
            j += 1;
        } else if i < old.len() && (j == new.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("- {}\n", old[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", new[j]));
            j += 1;
        }
    }
    out
}

/// The device ids of `(owner, device_id)` rows, by owner (a group's members, a policy's
/// canaries).
macro_rules! devices_by {
    ($pool:expr, $sql:expr) => {{
        let rows = sqlx::query($sql).fetch_all($pool).await?;
        let mut by: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
        for row in &rows {
            by.entry(row.try_get("owner")?)
                .or_default()
                .push(row.try_get("device_id")?);
        }
        by
    }};
}

macro_rules! group_from_row {
    ($row:expr, $members:expr) => {{
        let row = $row;
        let kind: String = row.try_get("kind")?;
        let rule = match kind.as_str() {
            "site" => GroupRule::Site {
                site: row
                    .try_get::<Option<String>, _>("site")?
                    .unwrap_or_default(),
            },
            "rule" => GroupRule::Rule {
                hostname_pattern: row.try_get("hostname_pattern")?,
                os_contains: row.try_get("os_contains")?,
            },
            _ => GroupRule::Manual { devices: $members },
        };
        Group {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            rule,
            created_by: row.try_get("created_by")?,
            created_at_ms: row.try_get("created_at_ms")?,
        }
    }};
}

impl Store {
    /// Every group, by name.
    pub async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT * FROM device_groups ORDER BY name LIMIT $1")
                .bind(MAX_GROUPS)
                .fetch_all(pool)
                .await?;
            let mut by_group = devices_by!(pool, "SELECT group_id AS owner, device_id FROM device_group_members ORDER BY group_id, device_id");
            let mut groups = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                groups.push(group_from_row!(row, by_group.remove(&id).unwrap_or_default()));
            }
            Ok(groups)
        })
    }

    /// Adds a group; refused with the field when a name is taken or a rule means nothing.
    pub async fn add_group(
        &self,
        name: &str,
        rule: &GroupRule,
        by: &str,
        now_ms: i64,
    ) -> Result<Group, FleetError> {
        let name = check_name("name", name)?;
        let (kind, site, pattern, os, devices) = match rule {
            GroupRule::Site { site } => (
                "site",
                Some(check_name("site", site)?),
                None,
                None,
                Vec::new(),
            ),
            GroupRule::Rule {
                hostname_pattern,
                os_contains,
            } => {
                let pattern = hostname_pattern
                    .as_deref()
                    .map(|p| check_name("hostname_pattern", p))
                    .transpose()?;
                let os = os_contains
                    .as_deref()
                    .map(|o| check_name("os_contains", o))
                    .transpose()?;
                if pattern.is_none() && os.is_none() {
                    return Err(refuse(
                        "hostname_pattern",
                        "a rule needs hostname_pattern, os_contains or both",
                    ));
                }
                ("rule", None, pattern, os, Vec::new())
            }
            GroupRule::Manual { devices } => {
                if devices.len() > 10_000 {
                    return Err(refuse("devices", "at most 10000 devices"));
                }
                ("manual", None, None, None, devices.clone())
            }
        };
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM device_groups").fetch_one(&mut *transaction).await?;
            if count >= MAX_GROUPS {
                return Err(refuse("name", format!("there are {count} groups already, the most kept")));
            }
            let taken = sqlx::query("SELECT id FROM device_groups WHERE name = $1").bind(&name).fetch_optional(&mut *transaction).await?;
            if taken.is_some() {
                return Err(refuse("name", format!("a group named {name:?} exists")));
            }
            for device in &devices {
                let known = sqlx::query("SELECT id FROM devices WHERE id = $1").bind(device).fetch_optional(&mut *transaction).await?;
                if known.is_none() {
                    return Err(refuse("devices", format!("no device {device:?}")));
                }
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO device_groups (name, kind, site, hostname_pattern, os_contains, created_by, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&name)
            .bind(kind)
            .bind(&site)
            .bind(&pattern)
            .bind(&os)
            .bind(by)
            .bind(now_ms)
            .fetch_one(&mut *transaction)
            .await?;
            for device in &devices {
                sqlx::query("INSERT INTO device_group_members (group_id, device_id) VALUES ($1, $2) ON CONFLICT (group_id, device_id) DO NOTHING")
                    .bind(id)
                    .bind(device)
                    .execute(&mut *transaction)
                    .await?;
            }
            sqlx::query("UPDATE fleet_generation SET value = value + 1 WHERE id = 1").execute(&mut *transaction).await?;
            transaction.commit().await?;
            Ok(Group {
                id,
                name,
                rule: rule.clone(),
                created_by: by.to_owned(),
                created_at_ms: now_ms,
            })
        })
    }

    /// Every policy with the version in force, by precedence then name.
    pub async fn policies(&self) -> Result<Vec<Policy>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT p.id, p.name, p.group_id, g.name AS group_name, p.precedence, p.version, v.toml, p.updated_at_ms, \
                 p.stable_version, s.toml AS stable_toml, c.name AS canary_group \
                 FROM policies p JOIN device_groups g ON g.id = p.group_id \
                 JOIN policy_versions v ON v.policy_id = p.id AND v.version = p.version \
                 LEFT JOIN policy_versions s ON s.policy_id = p.id AND s.version = p.stable_version \
                 LEFT JOIN device_groups c ON c.id = p.canary_group_id \
                 ORDER BY p.precedence, p.id LIMIT $1",
            )
            .bind(MAX_GROUPS)
            .fetch_all(pool)
            .await?;
            let mut canaries = devices_by!(pool, "SELECT policy_id AS owner, device_id FROM policy_canaries ORDER BY policy_id, device_id");
            let mut policies = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                policies.push(Policy {
                    id,
                    name: row.try_get("name")?,
                    group_id: row.try_get("group_id")?,
                    group: row.try_get("group_name")?,
                    precedence: row.try_get("precedence")?,
                    version: row.try_get("version")?,
                    toml: row.try_get("toml")?,
                    updated_at_ms: row.try_get("updated_at_ms")?,
                    stable_version: row.try_get("stable_version")?,
                    stable_toml: row.try_get("stable_toml")?,
                    canaries: canaries.remove(&id).unwrap_or_default(),
                    canary_group: row.try_get("canary_group")?,
                });
            }
            Ok(policies)
        })
    }

    /// A policy's versions, newest first.
    pub async fn policy_versions(&self, policy_id: i64) -> Result<Vec<PolicyVersion>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT * FROM policy_versions WHERE policy_id = $1 ORDER BY version DESC LIMIT 1000")
                .bind(policy_id)
                .fetch_all(pool)
                .await?;
            let mut versions = Vec::with_capacity(rows.len());
            for row in &rows {
                versions.push(PolicyVersion {
                    version: row.try_get("version")?,
                    toml: row.try_get("toml")?,
                    author: row.try_get("author")?,
                    at_ms: row.try_get("at_ms")?,
                    note: row.try_get("note")?,
                });
            }
            Ok(versions)
        })
    }

    /// Adds a policy (`id` None) or a new version of one; the settings are checked by the
    /// agent's rules first. Answers the policy as it is now.
    #[allow(clippy::too_many_arguments)]
    pub async fn save_policy(
        &self,
        id: Option<i64>,
        name: &str,
        group: &str,
        precedence: i64,
        toml: &str,
        note: &str,
        rollout: Option<&Rollout>,
        by: &str,
        now_ms: i64,
    ) -> Result<Policy, FleetError> {
        let name = check_name("name", name)?;
        // A browser's form sends CRLF: one text, one version, whatever sent it.
        let toml = &toml.replace("\r\n", "\n");
        if toml.len() > MAX_POLICY_BYTES {
            return Err(refuse(
                "toml",
                format!(
                    "{} bytes; a policy is at most {MAX_POLICY_BYTES}",
                    toml.len()
                ),
            ));
        }
        check_policy_toml(toml)?;
        self.check_with_the_others(id, group.trim(), precedence, toml)
            .await?;
        // The canaries are picked before the change, among the group's devices now.
        let canaries = match (id, rollout) {
            (None, Some(_)) => {
                return Err(refuse(
                    "canary",
                    "a new policy has no version before it to keep on the other devices: add it, then roll changes out",
                ));
            }
            (Some(id), Some(rollout)) => {
                if rollout.percent > 100 || (rollout.percent == 0 && rollout.group.is_none()) {
                    return Err(refuse(
                        "canary",
                        "a rollout needs a percent (1 to 100), a canary group, or both",
                    ));
                }
                self.pick_canaries(id, group.trim(), rollout.percent)
                    .await?
            }
            (_, None) => Vec::new(),
        };
        let canary_group = rollout.and_then(|r| r.group.as_deref()).map(str::trim);
        if note.len() > 2000 {
            return Err(refuse("note", "at most 2000 bytes"));
        }
        if !(-1000..=1000).contains(&precedence) {
            return Err(refuse("precedence", "between -1000 and 1000"));
        }
        let begin = self.backend.begin_statement();
        let id = with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let group_id: Option<i64> = sqlx::query_scalar("SELECT id FROM device_groups WHERE name = $1")
                .bind(group.trim())
                .fetch_optional(&mut *transaction)
                .await?;
            let Some(group_id) = group_id else {
                return Err(refuse("group", format!("no group named {:?}", group.trim())));
            };
            let id = match id {
                None => {
                    let taken = sqlx::query("SELECT id FROM policies WHERE name = $1").bind(&name).fetch_optional(&mut *transaction).await?;
                    if taken.is_some() {
                        return Err(refuse("name", format!("a policy named {name:?} exists")));
                    }
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO policies (name, group_id, precedence, version, created_at_ms, updated_at_ms) \
                         VALUES ($1, $2, $3, 1, $4, $4) RETURNING id",
                    )
                    .bind(&name)
                    .bind(group_id)
                    .bind(precedence)
                    .bind(now_ms)
                    .fetch_one(&mut *transaction)
                    .await?;
                    sqlx::query("INSERT INTO policy_versions (policy_id, version, toml, author, at_ms, note) VALUES ($1, 1, $2, $3, $4, $5)")
                        .bind(id)
                        .bind(toml)
                        .bind(by)
                        .bind(now_ms)
                        .bind(note)
                        .execute(&mut *transaction)
                        .await?;
                    id
                }
                Some(id) => {
                    let taken = sqlx::query("SELECT id FROM policies WHERE name = $1 AND id <> $2")
                        .bind(&name)
                        .bind(id)
                        .fetch_optional(&mut *transaction)
                        .await?;
                    if taken.is_some() {
                        return Err(refuse("name", format!("a policy named {name:?} exists")));
                    }
                    let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM policy_versions WHERE policy_id = $1")
                        .bind(id)
                        .fetch_one(&mut *transaction)
                        .await?;
                    let Some(latest) = version else {
                        return Err(refuse("id", format!("no policy {id}")));
                    };
                    let next = latest + 1;
                    sqlx::query("INSERT INTO policy_versions (policy_id, version, toml, author, at_ms, note) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(id)
                        .bind(next)
                        .bind(toml)
                        .bind(by)
                        .bind(now_ms)
                        .bind(note)
                        .execute(&mut *transaction)
                        .await?;
                    sqlx::query("UPDATE policies SET name = $1, group_id = $2, precedence = $3, version = $4, updated_at_ms = $5 WHERE id = $6")
                        .bind(&name)
                        .bind(group_id)
                        .bind(precedence)
                        .bind(next)
                        .bind(now_ms)
                        .bind(id)
                        .execute(&mut *transaction)
                        .await?;
                    // A new rollout picks its canaries afresh; a change without one during a
                    // rollout goes to the same canaries (only a promotion ends it).
                    if rollout.is_some() {
                        sqlx::query("DELETE FROM policy_canaries WHERE policy_id = $1").bind(id).execute(&mut *transaction).await?;
                        let canary_group_id: Option<i64> = match canary_group {
                            Some(canary) => {
                                let found: Option<i64> = sqlx::query_scalar("SELECT id FROM device_groups WHERE name = $1")
                                    .bind(canary)
                                    .fetch_optional(&mut *transaction)
                                    .await?;
                                if found.is_none() {
                                    return Err(refuse("canary", format!("no group named {canary:?}")));
                                }
                                found
                            }
                            None => None,
                        };
                        // A rollout already under way keeps the version the others run.
                        sqlx::query("UPDATE policies SET stable_version = COALESCE(stable_version, $1), canary_group_id = $2 WHERE id = $3")
                            .bind(latest)
                            .bind(canary_group_id)
                            .bind(id)
                            .execute(&mut *transaction)
                            .await?;
                        for device in &canaries {
                            sqlx::query("INSERT INTO policy_canaries (policy_id, device_id) VALUES ($1, $2)")
                                .bind(id)
                                .bind(device)
                                .execute(&mut *transaction)
                                .await?;
                        }
                    }
                    id
                }
            };
            sqlx::query("UPDATE fleet_generation SET value = value + 1 WHERE id = 1").execute(&mut *transaction).await?;
            transaction.commit().await?;
            id
        });
        self.policies()
            .await?
            .into_iter()
            .find(|policy| policy.id == id)
            .ok_or_else(|| refuse("id", format!("no policy {id}")))
    }

    /// Refuses a policy that would break devices together with the others: one that sets
    /// `site` on a group by site (the devices would leave the group that set it, and come
    /// back, for ever), and one whose merge with the other policies of some device is a
    /// config the agents refuse (each device's policies laid together and checked by the
    /// agent's rules, once per distinct set of policies).
    async fn check_with_the_others(
        &self,
        id: Option<i64>,
        group: &str,
        precedence: i64,
        toml: &str,
    ) -> Result<(), FleetError> {
        let groups = self.groups().await?;
        let Some(target) = groups.iter().find(|g| g.name == group) else {
            return Err(refuse("group", format!("no group named {group:?}")));
        };
        let sets_site = toml
            .parse::<toml::Table>()
            .is_ok_and(|table| table.contains_key("site"));
        if sets_site && matches!(target.rule, GroupRule::Site { .. }) {
            return Err(refuse(
                "toml",
                "site cannot be set by a policy of a group by site: its devices would leave the group that set it, and come back, over and over",
            ));
        }
        let mut policies = self.policies().await?;
        if id.is_none() && i64::try_from(policies.len()).unwrap_or(i64::MAX) >= MAX_GROUPS {
            return Err(refuse(
                "name",
                format!(
                    "there are {} policies already, the most kept",
                    policies.len()
                ),
            ));
        }
        let candidate = Policy {
            id: id.unwrap_or(i64::MAX),
            name: String::new(),
            group_id: target.id,
            group: target.name.clone(),
            precedence,
            version: 0,
            toml: toml.to_owned(),
            updated_at_ms: 0,
            stable_version: None,
            stable_toml: None,
            canaries: Vec::new(),
            canary_group: None,
        };
        policies.retain(|p| Some(p.id) != id);
        policies.push(candidate);
        policies.sort_by_key(|p| (p.precedence, p.id));
        let devices = self.device_traits().await?;
        let mut seen: std::collections::HashSet<Vec<i64>> = std::collections::HashSet::new();
        for device in &devices {
            let member_of: Vec<i64> = groups
                .iter()
                .filter(|g| g.contains(device))
                .map(|g| g.id)
                .collect();
            let applying: Vec<&Policy> = policies
                .iter()
                .filter(|p| member_of.contains(&p.group_id))
                .collect();
            let ids: Vec<i64> = applying.iter().map(|p| p.id).collect();
            if applying.len() < 2 || !seen.insert(ids) {
                continue;
            }
            let mut text = String::new();
            for policy in &applying {
                text = firstline_agent::fleet::layered(&text, &policy.toml).map_err(|e| {
                    refuse(
                        "toml",
                        format!("with the other policies of {}: {e}", device.hostname),
                    )
                })?;
            }
            firstline_agent::fleet::validate(&text).map_err(|e| {
                refuse(
                    "toml",
                    format!(
                        "with the other policies of {} the agents would refuse it: {e}",
                        device.hostname
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// Every device not revoked, as groups see it.
    async fn device_traits(&self) -> Result<Vec<DeviceTraits>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT id, hostname, site, os_name FROM devices WHERE revoked_at_ms IS NULL")
                .fetch_all(pool)
                .await?;
            let mut devices = Vec::with_capacity(rows.len());
            for row in &rows {
                devices.push(DeviceTraits {
                    id: row.try_get("id")?,
                    hostname: row.try_get("hostname")?,
                    site: row.try_get::<Option<String>, _>("site")?.unwrap_or_default(),
                    os_name: row.try_get::<Option<String>, _>("os_name")?.unwrap_or_default(),
                });
            }
            Ok(devices)
        })
    }

    /// `percent` of the devices of group `group` (at least one when there are any), picked
    /// by a digest of the policy and the device, so the pick does not depend on order.
    async fn pick_canaries(
        &self,
        policy_id: i64,
        group: &str,
        percent: u8,
    ) -> Result<Vec<String>, FleetError> {
        if percent == 0 {
            return Ok(Vec::new());
        }
        let Some(group) = self.groups().await?.into_iter().find(|g| g.name == group) else {
            return Err(refuse("group", format!("no group named {group:?}")));
        };
        let devices = self.device_traits().await?;
        let mut members: Vec<(Vec<u8>, String)> = devices
            .into_iter()
            .filter(|device| group.contains(device))
            .map(|device| {
                let digest = ring::digest::digest(
                    &ring::digest::SHA256,
                    format!("{policy_id}:{}", device.id).as_bytes(),
                );
                (digest.as_ref().to_vec(), device.id)
            })
            .collect();
        members.sort();
        let count = (members.len() * usize::from(percent))
            .div_ceil(100)
            .max(1)
            .min(members.len());
        Ok(members.into_iter().take(count).map(|(_, id)| id).collect())
    }

    /// Ends a rollout: every device of the group runs the version in force.
    pub async fn promote_policy(&self, id: i64, now_ms: i64) -> Result<Policy, FleetError> {
        with_pool!(self, pool => {
            let changed = sqlx::query("UPDATE policies SET stable_version = NULL, canary_group_id = NULL, updated_at_ms = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected();
            if changed == 0 {
                return Err(refuse("id", format!("no policy {id}")));
            }
            sqlx::query("DELETE FROM policy_canaries WHERE policy_id = $1").bind(id).execute(pool).await?;
            sqlx::query("UPDATE fleet_generation SET value = value + 1 WHERE id = 1").execute(pool).await?;
        });
        self.policies()
            .await?
            .into_iter()
            .find(|policy| policy.id == id)
            .ok_or_else(|| refuse("id", format!("no policy {id}")))
    }

    /// Puts an earlier version's settings back in force, as a new version (the trail keeps
    /// both).
    pub async fn roll_back_policy(
        &self,
        id: i64,
        to_version: i64,
        by: &str,
        now_ms: i64,
    ) -> Result<Policy, FleetError> {
        let policy = self
            .policies()
            .await?
            .into_iter()
            .find(|policy| policy.id == id)
            .ok_or_else(|| refuse("id", format!("no policy {id}")))?;
        let versions = self.policy_versions(id).await?;
        let Some(earlier) = versions.iter().find(|v| v.version == to_version) else {
            return Err(refuse(
                "version",
                format!("policy {id} has no version {to_version}"),
            ));
        };
        self.save_policy(
            Some(id),
            &policy.name,
            &policy.group,
            policy.precedence,
            &earlier.toml,
            &format!("rolled back to version {to_version}"),
            None,
            by,
            now_ms,
        )
        .await?;
        // A rollback is for every device at once.
        self.promote_policy(id, now_ms).await
    }

    /// The generation of groups and policies: it moves with every change.
    pub async fn fleet_generation(&self) -> Result<i64, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar("SELECT value FROM fleet_generation WHERE id = 1").fetch_one(pool).await?)
        })
    }

    /// The config device `device_id` should run (None: no such device).
    pub async fn effective_config(
        &self,
        device_id: &str,
    ) -> Result<Option<EffectiveConfig>, StoreError> {
        let device = with_pool!(self, pool => {
            let row = sqlx::query("SELECT id, hostname, site, os_name FROM devices WHERE id = $1")
                .bind(device_id)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(row) => Some(DeviceTraits {
                    id: row.try_get("id")?,
                    hostname: row.try_get("hostname")?,
                    site: row.try_get::<Option<String>, _>("site")?.unwrap_or_default(),
                    os_name: row.try_get::<Option<String>, _>("os_name")?.unwrap_or_default(),
                }),
                None => None,
            }
        });
        let Some(device) = device else {
            return Ok(None);
        };
        let groups = self.groups().await?;
        let policies = self.policies().await?;
        let member_of: std::collections::HashSet<i64> = groups
            .iter()
            .filter(|group| group.contains(&device))
            .map(|group| group.id)
            .collect();
        // While a version rolls out, a device that is not a canary runs the version before.
        let applying: Vec<Policy> = policies
            .into_iter()
            .filter(|policy| member_of.contains(&policy.group_id))
            .map(|mut policy| {
                let canary = policy.canaries.contains(&device.id)
                    || policy.canary_group.as_deref().is_some_and(|canary| {
                        groups
                            .iter()
                            .any(|g| g.name == canary && g.contains(&device))
                    });
                if let (Some(stable), Some(toml), false) =
                    (policy.stable_version, policy.stable_toml.take(), canary)
                {
                    policy.version = stable;
                    policy.toml = toml;
                }
                policy
            })
            .collect();
        Ok(Some(effective(&applying.iter().collect::<Vec<_>>())))
    }

    /// What the device said about its fleet config.
    pub async fn record_config_report(
        &self,
        device_id: &str,
        report: &ConfigReport,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE devices SET config_version = $1, config_refused_version = $2, config_error = $3, \
                 config_reported_at_ms = $4 WHERE id = $5",
            )
            .bind(&report.version)
            .bind(&report.refused_version)
            .bind(&report.error)
            .bind(now_ms)
            .bind(device_id)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The device's last word on its fleet config.
    pub async fn config_report(&self, device_id: &str) -> Result<ConfigReport, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT config_version, config_refused_version, config_error, config_reported_at_ms FROM devices WHERE id = $1",
            )
            .bind(device_id)
            .fetch_optional(pool)
            .await?;
            Ok(match row {
                Some(row) => ConfigReport {
                    version: row.try_get("config_version")?,
                    refused_version: row.try_get("config_refused_version")?,
                    error: row.try_get("config_error")?,
                    reported_at_ms: row.try_get("config_reported_at_ms")?,
                },
                None => ConfigReport::default(),
            })
        })
    }

    /// Per config version: how many devices run it and how many refused it.
    pub async fn config_versions(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT version, SUM(running) AS running, SUM(refused) AS refused FROM ( \
                 SELECT config_version AS version, 1 AS running, 0 AS refused FROM devices WHERE config_version IS NOT NULL AND config_version <> '' \
                 UNION ALL SELECT config_refused_version, 0, 1 FROM devices WHERE config_refused_version IS NOT NULL AND config_refused_version <> '' \
                 ) counted GROUP BY version ORDER BY version",
            )
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push((row.try_get("version")?, row.try_get("running")?, row.try_get("refused")?));
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{TestStore, backends};
    use crate::store::tickets::tests::{T0, enroll};

    /// Groups pick their devices, a device's policies lay over each other, a bad policy is
    /// refused naming the key, every change is a version, and a rollback is one more.
    #[tokio::test]
    async fn a_devices_config_is_its_groups_policies_and_every_change_is_kept() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "w1", "warsaw").await;
            enroll(store, "k1", "krakow").await;
            store
                .add_group(
                    "warsaw",
                    &GroupRule::Site {
                        site: "warsaw".to_owned(),
                    },
                    "ada",
                    T0,
                )
                .await
                .expect("group");
            store
                .add_group(
                    "every pc",
                    &GroupRule::Rule {
                        hostname_pattern: Some("pc-*".to_owned()),
                        os_contains: None,
                    },
                    "ada",
                    T0,
                )
                .await
                .expect("group");
            let taken = store
                .add_group(
                    "warsaw",
                    &GroupRule::Manual {
                        devices: Vec::new(),
                    },
                    "ada",
                    T0,
                )
                .await;
            assert!(
                matches!(
                    taken,
                    Err(FleetError::Refused(FleetRefusal { field: "name", .. }))
                ),
                "{backend}"
            );
            assert_eq!(
                store
                    .effective_config("w1")
                    .await
                    .expect("config")
                    .expect("w1")
                    .version,
                "",
                "{backend}"
            );

            let dns = "[checks.dns]\nnames = [\"intranet.example.com\"]\n";
            let bad = "[checks.disk]\nused_pct = { raise = 50.0, clear = 70.0 }\n";
            let refused = store
                .save_policy(None, "warsaw dns", "warsaw", 10, bad, "", None, "ada", T0)
                .await;
            match refused {
                Err(FleetError::Refused(FleetRefusal {
                    field: "toml",
                    message,
                })) => {
                    assert!(
                        message.contains("clear (70) must not be above raise (50)"),
                        "{backend}: {message}"
                    );
                }
                other => panic!("{backend}: {other:?}"),
            }
            let policy = store
                .save_policy(
                    None,
                    "warsaw dns",
                    "warsaw",
                    10,
                    dns,
                    "the intranet",
                    None,
                    "ada",
                    T0,
                )
                .await
                .expect("policy");
            store
                .save_policy(
                    None,
                    "all pcs",
                    "every pc",
                    0,
                    "[checks.dns]\ninterval = \"30s\"\n",
                    "",
                    None,
                    "ada",
                    T0,
                )
                .await
                .expect("policy");
            let warsaw = store
                .effective_config("w1")
                .await
                .expect("config")
                .expect("w1");
            assert_eq!(warsaw.policies, ["all pcs@1", "warsaw dns@1"], "{backend}");
            assert!(
                warsaw.toml.contains("intranet.example.com") && warsaw.toml.contains("30s"),
                "{backend}: {}",
                warsaw.toml
            );
            let krakow = store
                .effective_config("k1")
                .await
                .expect("config")
                .expect("k1");
            assert_eq!(krakow.policies, ["all pcs@1"], "{backend}");

            let generation = store.fleet_generation().await.expect("generation");
            let changed = store
                .save_policy(
                    Some(policy.id),
                    "warsaw dns",
                    "warsaw",
                    10,
                    "[checks.dns]\nnames = [\"mail.example.com\"]\n",
                    "mail too",
                    None,
                    "bob",
                    T0 + 1,
                )
                .await
                .expect("version 2");
            assert_eq!(changed.version, 2, "{backend}");
            assert!(
                store.fleet_generation().await.expect("generation") > generation,
                "{backend}"
            );
            let v2 = store
                .effective_config("w1")
                .await
                .expect("config")
                .expect("w1");
            assert_ne!(v2.version, warsaw.version, "{backend}");
            let rolled = store
                .roll_back_policy(policy.id, 1, "carol", T0 + 2)
                .await
                .expect("rollback");
            assert_eq!(
                (rolled.version, rolled.toml.as_str()),
                (3, dns),
                "{backend}"
            );
            let versions = store.policy_versions(policy.id).await.expect("versions");
            let trail: Vec<(i64, &str, &str)> = versions
                .iter()
                .map(|v| (v.version, v.author.as_str(), v.note.as_str()))
                .collect();
            assert_eq!(
                trail,
                [
                    (3, "carol", "rolled back to version 1"),
                    (2, "bob", "mail too"),
                    (1, "ada", "the intranet")
                ],
                "{backend}"
            );
            assert_eq!(
                store
                    .effective_config("w1")
                    .await
                    .expect("config")
                    .expect("w1")
                    .version,
                warsaw.version,
                "{backend}: same text, same version"
            );

            store
                .record_config_report(
                    "w1",
                    &ConfigReport {
                        version: Some(warsaw.version.clone()),
                        ..ConfigReport::default()
                    },
                    T0,
                )
                .await
                .expect("report");
            store
                .record_config_report(
                    "k1",
                    &ConfigReport {
                        version: Some(String::new()),
                        refused_version: Some(krakow.version.clone()),
                        error: Some("checks.watch[0]: cannot watch".to_owned()),
                        reported_at_ms: None,
                    },
                    T0,
                )
                .await
                .expect("report");
            let counts = store.config_versions().await.expect("counts");
            assert!(
                counts.contains(&(warsaw.version.clone(), 1, 0)),
                "{backend}: {counts:?}"
            );
            assert!(
                counts.contains(&(krakow.version.clone(), 0, 1)),
                "{backend}: {counts:?}"
            );
            assert_eq!(
                store
                    .config_report("k1")
                    .await
                    .expect("report")
                    .error
                    .as_deref(),
                Some("checks.watch[0]: cannot watch"),
                "{backend}"
            );
        }
    }

    /// A change rolled out to 20% of ten devices reaches exactly two first; the others keep
    /// the version before until it is promoted; a canary group's devices come along.
    #[tokio::test]
    async fn a_canary_rollout_reaches_its_share_first_and_promotion_the_rest() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            let ids: Vec<String> = (0..10).map(|n| format!("d{n}")).collect();
            for id in &ids {
                enroll(store, id, "hq").await;
            }
            let rule = GroupRule::Rule {
                hostname_pattern: Some("pc-d*".to_owned()),
                os_contains: None,
            };
            store
                .add_group("all", &rule, "ada", T0)
                .await
                .expect("group");
            let lab = GroupRule::Manual {
                devices: vec!["d9".to_owned()],
            };
            store
                .add_group("it lab", &lab, "ada", T0)
                .await
                .expect("group");
            let v1 = "[checks.dns]\nnames = [\"intranet.example.com\"]\n";
            let v2 = "[checks.dns]\nnames = [\"intranet.example.com\", \"mail.example.com\"]\n";
            let policy = store
                .save_policy(None, "dns", "all", 0, v1, "", None, "ada", T0)
                .await
                .expect("v1");
            let first = store
                .effective_config("d0")
                .await
                .expect("config")
                .expect("d0")
                .version;
            let refused = store
                .save_policy(
                    None,
                    "other",
                    "all",
                    0,
                    v1,
                    "",
                    Some(&Rollout {
                        percent: 20,
                        group: None,
                    }),
                    "ada",
                    T0,
                )
                .await;
            assert!(
                matches!(
                    refused,
                    Err(FleetError::Refused(FleetRefusal {
                        field: "canary",
                        ..
                    }))
                ),
                "{backend}"
            );

            let canary = Rollout {
                percent: 20,
                group: Some("it lab".to_owned()),
            };
            let rolling = store
                .save_policy(
                    Some(policy.id),
                    "dns",
                    "all",
                    0,
                    v2,
                    "mail too",
                    Some(&canary),
                    "bob",
                    T0 + 1,
                )
                .await
                .expect("v2 to canaries");
            assert_eq!(
                (rolling.version, rolling.stable_version),
                (2, Some(1)),
                "{backend}"
            );
            assert_eq!(rolling.canaries.len(), 2, "{backend}: 20% of 10");
            let mut on_new = Vec::new();
            for id in &ids {
                let config = store
                    .effective_config(id)
                    .await
                    .expect("config")
                    .expect("device");
                if config.version != first {
                    on_new.push(id.clone());
                }
            }
            let mut expected = rolling.canaries.clone();
            if !expected.contains(&"d9".to_owned()) {
                expected.push("d9".to_owned());
            }
            expected.sort();
            assert_eq!(
                on_new, expected,
                "{backend}: the canaries and the lab's device, no one else"
            );

            // A change without a rollout while one is under way goes to the same canaries.
            let v3 = "[checks.dns]\nnames = [\"intranet.example.com\", \"mail.example.com\", \"crm.example.com\"]\n";
            let still = store
                .save_policy(
                    Some(policy.id),
                    "dns",
                    "all",
                    0,
                    v3,
                    "crm too",
                    None,
                    "bob",
                    T0 + 2,
                )
                .await
                .expect("v3");
            assert_eq!(
                (still.stable_version, still.canaries.clone()),
                (Some(1), rolling.canaries.clone()),
                "{backend}"
            );
            store
                .promote_policy(policy.id, T0 + 2)
                .await
                .expect("promote");
            for id in &ids {
                let config = store
                    .effective_config(id)
                    .await
                    .expect("config")
                    .expect("device");
                assert!(config.toml.contains("crm.example.com"), "{backend}: {id}");
            }
        }
    }

    /// Two policies each fine alone but refused together by the agents' rules are refused
    /// when the second is saved, naming a device; a site set by a group by site is refused.
    #[tokio::test]
    async fn a_policy_that_breaks_devices_with_the_others_is_refused() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "w1", "warsaw").await;
            store
                .add_group(
                    "warsaw",
                    &GroupRule::Site {
                        site: "warsaw".to_owned(),
                    },
                    "ada",
                    T0,
                )
                .await
                .expect("group");
            store
                .add_group(
                    "pcs",
                    &GroupRule::Rule {
                        hostname_pattern: Some("pc-*".to_owned()),
                        os_contains: None,
                    },
                    "ada",
                    T0,
                )
                .await
                .expect("group");
            store
                .save_policy(
                    None,
                    "slow reconnect",
                    "warsaw",
                    0,
                    "[uplink]\nreconnect_min = \"30s\"\n",
                    "",
                    None,
                    "ada",
                    T0,
                )
                .await
                .expect("fine alone");
            let refused = store
                .save_policy(
                    None,
                    "fast reconnect",
                    "pcs",
                    5,
                    "[uplink]\nreconnect_max = \"10s\"\n",
                    "",
                    None,
                    "ada",
                    T0,
                )
                .await;
            match refused {
                Err(FleetError::Refused(FleetRefusal {
                    field: "toml",
                    message,
                })) => {
                    assert!(
                        message.contains("pc-w1") && message.contains("reconnect_min"),
                        "{backend}: {message}"
                    );
                }
                other => panic!("{backend}: {other:?}"),
            }
            let looping = store
                .save_policy(
                    None,
                    "rename",
                    "warsaw",
                    0,
                    "site = \"berlin\"\n",
                    "",
                    None,
                    "ada",
                    T0,
                )
                .await;
            assert!(
                matches!(
                    looping,
                    Err(FleetError::Refused(FleetRefusal { field: "toml", .. }))
                ),
                "{backend}"
            );
            store
                .save_policy(
                    None,
                    "rename",
                    "pcs",
                    0,
                    "site = \"berlin\"\n",
                    "",
                    None,
                    "ada",
                    T0,
                )
                .await
                .expect("a rule group may set the site");
        }
    }

    #[test]
    fn wildcards_match_whole_hostnames_whatever_the_case() {
        for (pattern, text, matches) in [
            ("waw-*", "WAW-PC-014", true),
            ("waw-*", "krk-pc-1", false),
            ("*-pc-??", "waw-pc-14", true),
            ("*-pc-??", "waw-pc-145", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ] {
            assert_eq!(wildcard(pattern, text), matches, "{pattern} {text}");
        }
    }

    #[test]
    fn the_diff_names_lines_gone_and_new() {
        let before = "[checks.dns]\nnames = [\"a\"]\ninterval = \"30s\"\n";
        let after = "[checks.dns]\nnames = [\"a\", \"b\"]\ninterval = \"30s\"\n";
        assert_eq!(
            diff(before, after),
            "- names = [\"a\"]\n+ names = [\"a\", \"b\"]\n"
        );
    }

    #[test]
    fn policies_lay_over_each_other_by_precedence_and_the_version_follows_the_text() {
        let policy = |name: &str, precedence: i64, toml: &str| Policy {
            id: precedence,
            name: name.to_owned(),
            group_id: 1,
            group: "all".to_owned(),
            precedence,
            version: 1,
            toml: toml.to_owned(),
            updated_at_ms: 0,
            stable_version: None,
            stable_toml: None,
            canaries: Vec::new(),
            canary_group: None,
        };
        let base = policy(
            "base",
            0,
            "site = \"hq\"\n[checks.dns]\nnames = [\"a.example.com\"]\n",
        );
        let warsaw = policy("warsaw", 10, "site = \"warsaw\"\n");
        let both = effective(&[&base, &warsaw]);
        assert!(both.toml.contains("site = \"warsaw\""), "{}", both.toml);
        assert!(both.toml.contains("a.example.com"), "{}", both.toml);
        assert_eq!(both.policies, ["base@1", "warsaw@1"]);
        assert_eq!(both.version.len(), 12);
        assert_ne!(effective(&[&base]).version, both.version);
        assert_eq!(effective(&[]).version, "");
    }
}
