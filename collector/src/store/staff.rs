//! Staff in the store: users (argon2 hashes), sessions (token hashes with their CSRF token),
//! failed sign-ins, and revoking: devices, API keys, unused enrollment tokens, users (disabled).

use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::model::Role;

/// A signed-in session, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_name: String,
    pub role: Role,
    pub csrf_token: String,
    /// What they chose to read the workspace in (None: what their browser says).
    pub preferences: Preferences,
}

/// A member of staff's choices for the workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    /// A language code Firstline speaks (`en`, `zh`, `pl`, `el`), or None for the browser's.
    pub language: Option<String>,
    /// An IANA time zone name (`Europe/Warsaw`), or None for the browser's.
    pub time_zone: Option<String>,
}

/// Recent sign-in attempts, as the limits see them (see [`Store::login_attempts_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginAttempts {
    pub for_account: u32,
    pub last_for_account_at_ms: Option<i64>,
    pub from_peer: u32,
}

/// A person who may sign in, as admins see them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UserRecord {
    pub name: String,
    pub role: Role,
    pub created_at_ms: i64,
    /// Set while the user is disabled.
    pub disabled_at_ms: Option<i64>,
}

/// An enrollment token nobody has used, named by its id (the start of its hash: the token
/// itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UnusedToken {
    pub id: String,
    #[serde(skip)]
    pub token_hash: Vec<u8>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// A token's id: the first 6 bytes of its SHA-256 in hex, enough to tell a rollout's tokens
/// apart and nothing an attacker could enroll with.
pub fn token_id(token_hash: &[u8]) -> String {
    token_hash
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn role_of(text: String) -> Result<Role, StoreError> {
    Role::parse(&text).ok_or(StoreError::Corrupt {
        what: "role",
        detail: text,
    })
}

impl Store {
    pub async fn insert_user(
        &self,
        name: &str,
        role: Role,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let result = with_pool!(self, pool => {
            sqlx::query("INSERT INTO users (name, role, password_hash, created_at_ms) VALUES ($1, $2, $3, $4)")
                .bind(name)
                .bind(role.as_str())
                .bind(password_hash)
                .bind(now_ms)
                .execute(pool)
                .await
                .map(drop)
        });
        super::unique_name(result, "a user", name)
    }

    /// The role and password hash of an enabled user.
    pub async fn user_credentials(&self, name: &str) -> Result<Option<(Role, String)>, StoreError> {
        let found: Option<(String, String)> = with_pool!(self, pool => {
            let row = sqlx::query("SELECT role, password_hash FROM users WHERE name = $1 AND disabled_at_ms IS NULL")
                .bind(name)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(row) => Some((row.try_get("role")?, row.try_get("password_hash")?)),
                None => None,
            }
        });
        match found {
            Some((role, hash)) => Ok(Some((role_of(role)?, hash))),
            None => Ok(None),
        }
    }

    /// Remembers a sign-in attempt before it is checked (so simultaneous guesses all count),
    /// forgetting attempts older than a day. `attempt_id` names it for
    /// [`Store::set_login_attempt_aside`].
    pub async fn record_login_attempt(
        &self,
        name: &str,
        peer: &str,
        attempt_id: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO login_failures (user_name, peer, attempt_id, at_ms) VALUES ($1, $2, $3, $4)")
                .bind(name)
                .bind(peer)
                .bind(attempt_id)
                .bind(now_ms)
                .execute(pool)
                .await?;
            sqlx::query("DELETE FROM login_failures WHERE at_ms < $1")
                .bind(now_ms - 86_400_000)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Attempts since `since_ms` (failed, or still being checked) other than `attempt_id`: for
    /// this account from anywhere (leaving out those refused by a limit, which were never
    /// checked) with the latest one's time, and from this peer for any name (all of them).
    pub async fn login_attempts_since(
        &self,
        name: &str,
        peer: &str,
        attempt_id: &str,
        since_ms: i64,
    ) -> Result<LoginAttempts, StoreError> {
        let (for_account, last_at_ms, from_peer): (i64, Option<i64>, i64) = with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, MAX(at_ms) AS last_at_ms FROM login_failures \
                 WHERE user_name = $1 AND at_ms >= $2 AND throttled_at_ms IS NULL \
                 AND (attempt_id IS NULL OR attempt_id <> $3)",
            )
            .bind(name)
            .bind(since_ms)
            .bind(attempt_id)
            .fetch_one(pool)
            .await?;
            let for_account: i64 = row.try_get("n")?;
            let last_at_ms: Option<i64> = row.try_get("last_at_ms")?;
            let from_peer: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM login_failures WHERE peer = $1 AND at_ms >= $2 \
                 AND (attempt_id IS NULL OR attempt_id <> $3)",
            )
            .bind(peer)
            .bind(since_ms)
            .bind(attempt_id)
            .fetch_one(pool)
            .await?
            .try_get("n")?;
            (for_account, last_at_ms, from_peer)
        });
        Ok(LoginAttempts {
            for_account: u32::try_from(for_account).unwrap_or(u32::MAX),
            last_for_account_at_ms: last_at_ms,
            from_peer: u32::try_from(from_peer).unwrap_or(u32::MAX),
        })
    }

    /// An attempt refused by a limit (never checked) stops counting against its account; it
    /// still counts against its address.
    pub async fn set_login_attempt_aside(
        &self,
        attempt_id: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE login_failures SET throttled_at_ms = $1 WHERE attempt_id = $2")
                .bind(now_ms)
                .bind(attempt_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A successful sign-in forgets that name's attempts from that peer.
    pub async fn clear_login_attempts(&self, name: &str, peer: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM login_failures WHERE user_name = $1 AND peer = $2")
                .bind(name)
                .bind(peer)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Disables a user (their sessions end at once and they cannot sign in) or enables them
    /// again. False for an unknown name.
    pub async fn set_user_disabled(
        &self,
        name: &str,
        disabled: bool,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let begin = self.backend.begin_statement();
        let changed = with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let changed = if disabled {
                sqlx::query("UPDATE users SET disabled_at_ms = COALESCE(disabled_at_ms, $1) WHERE name = $2")
                    .bind(now_ms)
                    .bind(name)
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected()
            } else {
                sqlx::query("UPDATE users SET disabled_at_ms = NULL WHERE name = $1")
                    .bind(name)
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected()
            };
            if disabled {
                sqlx::query("DELETE FROM sessions WHERE user_name = $1")
                    .bind(name)
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
            changed
        });
        Ok(changed == 1)
    }

    /// Sets a user's password hash and ends every session of theirs but `keep_session` (the
    /// one that changed it, if it is theirs). False for an unknown name.
    pub async fn set_user_password(
        &self,
        name: &str,
        password_hash: &str,
        keep_session: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let begin = self.backend.begin_statement();
        let changed = with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
                .bind(password_hash)
                .bind(name)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            match keep_session {
                Some(token_hash) => {
                    sqlx::query("DELETE FROM sessions WHERE user_name = $1 AND token_hash <> $2")
                        .bind(name)
                        .bind(token_hash)
                        .execute(&mut *transaction)
                        .await?
                }
                None => {
                    sqlx::query("DELETE FROM sessions WHERE user_name = $1")
                        .bind(name)
                        .execute(&mut *transaction)
                        .await?
                }
            };
            transaction.commit().await?;
            changed
        });
        Ok(changed == 1)
    }

    /// Sets what `name` reads the workspace in. False when there is no such user.
    pub async fn set_preferences(
        &self,
        name: &str,
        preferences: &Preferences,
    ) -> Result<bool, StoreError> {
        let changed = with_pool!(self, pool => {
            sqlx::query("UPDATE users SET language = $1, time_zone = $2 WHERE name = $3")
                .bind(preferences.language.as_deref())
                .bind(preferences.time_zone.as_deref())
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(changed == 1)
    }

    /// Whether a user named `name` exists (enabled or not).
    pub async fn user_exists(&self, name: &str) -> Result<bool, StoreError> {
        let found = with_pool!(self, pool => {
            sqlx::query("SELECT 1 AS one FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
                .is_some()
        });
        Ok(found)
    }

    /// Every user, by name, with whether they are disabled.
    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows: Vec<(String, String, i64, Option<i64>)> = with_pool!(self, pool => {
            let rows = sqlx::query("SELECT name, role, created_at_ms, disabled_at_ms FROM users ORDER BY name")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("name")?, row.try_get("role")?, row.try_get("created_at_ms")?, row.try_get("disabled_at_ms")?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        rows.into_iter()
            .map(|(name, role, created_at_ms, disabled_at_ms)| {
                Ok(UserRecord {
                    name,
                    role: role_of(role)?,
                    created_at_ms,
                    disabled_at_ms,
                })
            })
            .collect()
    }

    /// Revokes the live API key named `name`: it is refused from the next request on. False
    /// when no live key has that name.
    pub async fn revoke_api_key(&self, name: &str, now_ms: i64) -> Result<bool, StoreError> {
        let changed = with_pool!(self, pool => {
            sqlx::query("UPDATE api_keys SET revoked_at_ms = $1 WHERE name = $2 AND revoked_at_ms IS NULL")
                .bind(now_ms)
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(changed == 1)
    }

    /// Enrollment tokens not used yet (expired ones included), oldest first.
    pub async fn unused_tokens(&self) -> Result<Vec<UnusedToken>, StoreError> {
        let rows: Vec<(Vec<u8>, i64, i64)> = with_pool!(self, pool => {
            let rows = sqlx::query("SELECT token_hash, created_at_ms, expires_at_ms FROM enrollment_tokens WHERE used_at_ms IS NULL ORDER BY created_at_ms")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("token_hash")?, row.try_get("created_at_ms")?, row.try_get("expires_at_ms")?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .map(|(token_hash, created_at_ms, expires_at_ms)| UnusedToken {
                id: token_id(&token_hash),
                token_hash,
                created_at_ms,
                expires_at_ms,
            })
            .collect())
    }

    /// Forgets an enrollment token unless it was used meanwhile: it can no longer enroll
    /// anything. False when it was used or is unknown.
    pub async fn revoke_unused_token(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        let changed = with_pool!(self, pool => {
            sqlx::query("DELETE FROM enrollment_tokens WHERE token_hash = $1 AND used_at_ms IS NULL")
                .bind(token_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(changed == 1)
    }

    pub async fn create_session(
        &self,
        token_hash: &[u8],
        user_name: &str,
        csrf_token: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO sessions (token_hash, user_name, csrf_token, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5)")
                .bind(token_hash)
                .bind(user_name)
                .bind(csrf_token)
                .bind(now_ms)
                .bind(expires_at_ms)
                .execute(pool)
                .await?;
            // Old sessions are forgotten as new ones start.
            sqlx::query("DELETE FROM sessions WHERE expires_at_ms < $1")
                .bind(now_ms)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The live session a cookie token's hash belongs to (its user still enabled).
    pub async fn session(
        &self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<Session>, StoreError> {
        type Row = (String, String, String, Option<String>, Option<String>);
        let found: Option<Row> = with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT s.user_name, s.csrf_token, u.role, u.language, u.time_zone FROM sessions s JOIN users u ON u.name = s.user_name \
                 WHERE s.token_hash = $1 AND s.expires_at_ms > $2 AND u.disabled_at_ms IS NULL",
            )
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(pool)
            .await?;
            match row {
                Some(row) => Some((
                    row.try_get("user_name")?,
                    row.try_get("csrf_token")?,
                    row.try_get("role")?,
                    row.try_get("language")?,
                    row.try_get("time_zone")?,
                )),
                None => None,
            }
        });
        match found {
            Some((user_name, csrf_token, role, language, time_zone)) => Ok(Some(Session {
                user_name,
                role: role_of(role)?,
                csrf_token,
                preferences: Preferences {
                    language,
                    time_zone,
                },
            })),
            None => Ok(None),
        }
    }

    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Devices revoked at or after `since_ms`, for collectors to end their live streams.
    pub async fn revoked_since(&self, since_ms: i64) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT id FROM devices WHERE revoked_at_ms >= $1")
                .bind(since_ms)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| row.try_get::<String, _>("id").map_err(StoreError::from))
                .collect()
        })
    }

    /// Revokes a device's certificate: its streams are refused from now on. Returns false
    /// for an unknown device.
    pub async fn revoke_device(&self, device_id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let changed = with_pool!(self, pool => {
            sqlx::query("UPDATE devices SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE id = $2")
                .bind(now_ms)
                .bind(device_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(changed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{TestStore, backends};

    #[tokio::test]
    async fn disabling_a_user_ends_their_sessions_and_enabling_lets_them_back() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            store
                .insert_user("tina", Role::Technician, "hash-1", 1)
                .await
                .expect("user");
            store
                .create_session(b"s1", "tina", "csrf", 1, i64::MAX)
                .await
                .expect("session");
            assert!(
                store
                    .set_user_disabled("tina", true, 5)
                    .await
                    .expect("disable")
            );
            assert_eq!(
                store.session(b"s1", 2).await.expect("session"),
                None,
                "{backend}"
            );
            assert_eq!(store.user_credentials("tina").await.expect("read"), None);
            let users = store.users().await.expect("users");
            assert_eq!(users[0].disabled_at_ms, Some(5), "{backend}");
            assert!(
                store
                    .set_user_disabled("tina", false, 6)
                    .await
                    .expect("enable")
            );
            assert_eq!(
                store.user_credentials("tina").await.expect("read"),
                Some((Role::Technician, "hash-1".to_owned())),
                "{backend}"
            );
            // The session ended for good: enabling starts no old session again.
            assert_eq!(store.session(b"s1", 2).await.expect("session"), None);
            assert!(
                !store
                    .set_user_disabled("nobody", true, 5)
                    .await
                    .expect("unknown")
            );
            assert!(store.user_exists("tina").await.expect("exists"));
            assert!(!store.user_exists("nobody").await.expect("exists"));
        }
    }

    #[tokio::test]
    async fn a_new_password_ends_every_other_session() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            store
                .insert_user("tina", Role::Technician, "old", 1)
                .await
                .expect("user");
            for token in [b"s1", b"s2", b"s3"] {
                store
                    .create_session(token, "tina", "csrf", 1, i64::MAX)
                    .await
                    .expect("session");
            }
            assert!(
                store
                    .set_user_password("tina", "new", Some(b"s2"))
                    .await
                    .expect("change")
            );
            assert_eq!(
                store.session(b"s1", 2).await.expect("s1"),
                None,
                "{backend}"
            );
            assert!(
                store.session(b"s2", 2).await.expect("s2").is_some(),
                "{backend}"
            );
            assert_eq!(
                store.session(b"s3", 2).await.expect("s3"),
                None,
                "{backend}"
            );
            assert_eq!(
                store.user_credentials("tina").await.expect("read"),
                Some((Role::Technician, "new".to_owned()))
            );
            assert!(
                store
                    .set_user_password("tina", "newer", None)
                    .await
                    .expect("reset")
            );
            assert_eq!(
                store.session(b"s2", 2).await.expect("s2"),
                None,
                "{backend}"
            );
            assert!(
                !store
                    .set_user_password("nobody", "x", None)
                    .await
                    .expect("unknown")
            );
        }
    }

    #[tokio::test]
    async fn revoked_api_keys_and_tokens_stop_working() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            store
                .insert_api_key("script", Role::Admin, b"key", 1)
                .await
                .expect("key");
            assert!(store.api_key(b"key").await.expect("key").is_some());
            assert!(store.revoke_api_key("script", 2).await.expect("revoke"));
            assert_eq!(store.api_key(b"key").await.expect("key"), None, "{backend}");
            assert!(!store.revoke_api_key("script", 3).await.expect("again"));
            assert!(!store.revoke_api_key("nobody", 3).await.expect("unknown"));

            store
                .insert_token(b"unused-token-1", 1, 10)
                .await
                .expect("token");
            store
                .insert_token(b"used-token-2", 2, i64::MAX)
                .await
                .expect("token");
            store
                .enroll_device(
                    b"used-token-2",
                    3,
                    &crate::store::NewDevice {
                        id: "dev-1".to_owned(),
                        hostname: "pc".to_owned(),
                        agent_version: "0.1.0".to_owned(),
                        certificate_serial: "01".to_owned(),
                        certificate_not_after_ms: i64::MAX,
                    },
                )
                .await
                .expect("enroll");
            let unused = store.unused_tokens().await.expect("unused");
            assert_eq!(unused.len(), 1, "{backend}: {unused:?}");
            assert_eq!(unused[0].id, token_id(b"unused-token-1"));
            assert!(
                store
                    .revoke_unused_token(b"unused-token-1")
                    .await
                    .expect("revoke")
            );
            assert!(
                !store
                    .revoke_unused_token(b"used-token-2")
                    .await
                    .expect("used")
            );
            assert!(store.unused_tokens().await.expect("unused").is_empty());
            assert_eq!(
                store
                    .check_token(b"unused-token-1", 5)
                    .await
                    .expect("check"),
                Err(crate::store::TokenRefusal::Unknown)
            );
        }
    }

    #[tokio::test]
    async fn attempts_count_per_account_and_per_peer_and_refused_ones_are_set_aside() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            store
                .record_login_attempt("tina", "192.0.2.1", "a1", 100)
                .await
                .expect("a1");
            store
                .record_login_attempt("tina", "192.0.2.2", "a2", 200)
                .await
                .expect("a2");
            store
                .record_login_attempt("sam", "192.0.2.1", "a3", 300)
                .await
                .expect("a3");
            store
                .record_login_attempt("tina", "192.0.2.3", "a4", 400)
                .await
                .expect("a4");
            // Seen by attempt a4: the other two of the account, from anywhere; a1 and a3 from
            // a4's peer are not a4's.
            assert_eq!(
                store
                    .login_attempts_since("tina", "192.0.2.1", "a4", 0)
                    .await
                    .expect("count"),
                LoginAttempts {
                    for_account: 2,
                    last_for_account_at_ms: Some(200),
                    from_peer: 2,
                },
                "{backend}"
            );
            store
                .set_login_attempt_aside("a2", 450)
                .await
                .expect("aside");
            let seen = store
                .login_attempts_since("tina", "192.0.2.2", "a4", 0)
                .await
                .expect("count");
            assert_eq!(
                (
                    seen.for_account,
                    seen.last_for_account_at_ms,
                    seen.from_peer
                ),
                (1, Some(100), 1),
                "{backend}: set aside for the account, not for the address"
            );
            assert_eq!(
                store
                    .login_attempts_since("tina", "192.0.2.1", "a4", 150)
                    .await
                    .expect("count")
                    .for_account,
                0,
                "{backend}: outside the window"
            );
            store
                .clear_login_attempts("tina", "192.0.2.1")
                .await
                .expect("clear");
            assert_eq!(
                store
                    .login_attempts_since("tina", "192.0.2.1", "none", 0)
                    .await
                    .expect("count")
                    .for_account,
                1,
                "{backend}: a4 is left"
            );
        }
    }
}
