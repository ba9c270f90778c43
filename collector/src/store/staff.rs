//! Staff in the store: users (argon2 hashes), sessions (token hashes with their CSRF token),
//! failed sign-ins, and revoking a device.

use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::model::Role;

/// A signed-in session, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_name: String,
    pub role: Role,
    pub csrf_token: String,
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
    /// forgetting attempts older than a day.
    pub async fn record_login_attempt(
        &self,
        name: &str,
        peer: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO login_failures (user_name, peer, at_ms) VALUES ($1, $2, $3)")
                .bind(name)
                .bind(peer)
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

    /// Attempts since `since_ms` (failed, or still being checked): for this name from this
    /// peer, and from this peer for any name.
    pub async fn login_attempts_since(
        &self,
        name: &str,
        peer: &str,
        since_ms: i64,
    ) -> Result<(u32, u32), StoreError> {
        let (for_name, from_peer): (i64, i64) = with_pool!(self, pool => {
            let for_name: i64 = sqlx::query("SELECT COUNT(*) AS n FROM login_failures WHERE user_name = $1 AND peer = $2 AND at_ms >= $3")
                .bind(name)
                .bind(peer)
                .bind(since_ms)
                .fetch_one(pool)
                .await?
                .try_get("n")?;
            let from_peer: i64 = sqlx::query("SELECT COUNT(*) AS n FROM login_failures WHERE peer = $1 AND at_ms >= $2")
                .bind(peer)
                .bind(since_ms)
                .fetch_one(pool)
                .await?
                .try_get("n")?;
            (for_name, from_peer)
        });
        Ok((
            u32::try_from(for_name).unwrap_or(u32::MAX),
            u32::try_from(from_peer).unwrap_or(u32::MAX),
        ))
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
        let found: Option<(String, String, String)> = with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT s.user_name, s.csrf_token, u.role FROM sessions s JOIN users u ON u.name = s.user_name \
                 WHERE s.token_hash = $1 AND s.expires_at_ms > $2 AND u.disabled_at_ms IS NULL",
            )
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(pool)
            .await?;
            match row {
                Some(row) => Some((row.try_get("user_name")?, row.try_get("csrf_token")?, row.try_get("role")?)),
                None => None,
            }
        });
        match found {
            Some((user_name, csrf_token, role)) => Ok(Some(Session {
                user_name,
                role: role_of(role)?,
                csrf_token,
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
