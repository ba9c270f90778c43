//! The contact directory in the database: who an OS account is. An import replaces or adds
//! entries in one transaction; nothing else depends on an account being in it.

use std::collections::HashMap;

use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::directory::Person;

impl Store {
    /// Adds or replaces `people` in one transaction; returns how many were new.
    pub async fn upsert_people(
        &self,
        people: &[Person],
        by: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let begin = self.backend.begin_statement();
        let added = with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let mut added = 0;
            for person in people {
                let existed = sqlx::query("SELECT 1 AS found FROM people WHERE account = $1")
                    .bind(&person.account)
                    .fetch_optional(&mut *transaction)
                    .await?
                    .is_some();
                sqlx::query(
                    "INSERT INTO people (account, display_name, email, language, updated_at_ms, updated_by) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account) DO UPDATE SET \
                     display_name = excluded.display_name, email = excluded.email, \
                     language = excluded.language, updated_at_ms = excluded.updated_at_ms, \
                     updated_by = excluded.updated_by",
                )
                .bind(&person.account)
                .bind(&person.display_name)
                .bind(&person.email)
                .bind(&person.language)
                .bind(now_ms)
                .bind(by)
                .execute(&mut *transaction)
                .await?;
                added += u64::from(!existed);
            }
            transaction.commit().await?;
            added
        });
        Ok(added)
    }

    /// Removes `account` from the directory; false when it was not in it.
    pub async fn delete_person(&self, account: &str) -> Result<bool, StoreError> {
        let removed = with_pool!(self, pool => {
            sqlx::query("DELETE FROM people WHERE account = $1")
                .bind(account)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(removed == 1)
    }

    /// The directory, by account (at most `limit` entries).
    pub async fn people(&self, limit: usize) -> Result<Vec<Person>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT account, display_name, email, language FROM people ORDER BY account LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter().map(person).collect::<Result<Vec<_>, sqlx::Error>>().map_err(StoreError::from)
        })
    }

    /// The entries of `accounts` that are in the directory.
    pub async fn people_named(
        &self,
        accounts: &[String],
    ) -> Result<HashMap<String, Person>, StoreError> {
        let mut found = HashMap::new();
        // One query per page of accounts keeps the bound parameters few on both engines.
        for chunk in accounts.chunks(200) {
            let people: Vec<Person> = with_pool!(self, pool => {
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT account, display_name, email, language FROM people WHERE account IN (",
                );
                let mut separated = query.separated(", ");
                for account in chunk {
                    separated.push_bind(account);
                }
                query.push(")");
                let rows = query.build().fetch_all(pool).await?;
                rows.iter().map(person).collect::<Result<Vec<_>, sqlx::Error>>()?
            });
            for person in people {
                found.insert(person.account.clone(), person);
            }
        }
        Ok(found)
    }
}

fn person<R>(row: &R) -> Result<Person, sqlx::Error>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Person {
        account: row.try_get("account")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        language: row.try_get("language")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{PersonFields, validate};
    use crate::store::tests::backends;

    fn entry(account: &str, name: &str) -> Person {
        validate(
            account,
            &PersonFields {
                display_name: name.to_owned(),
                email: Some(format!("{account}@example.com")),
                language: Some("pl".to_owned()),
            },
        )
        .expect("valid")
    }

    #[tokio::test]
    async fn an_import_adds_and_replaces_and_lookups_find_only_known_accounts() {
        for test in backends().await {
            let store = &test.store;
            let added = store
                .upsert_people(
                    &[entry("carol", "Carol"), entry("piotr", "Piotr")],
                    "admin",
                    1,
                )
                .await
                .expect("import");
            assert_eq!(added, 2);
            let added = store
                .upsert_people(
                    &[entry("carol", "Carol Smith"), entry("eleni", "Eleni")],
                    "admin",
                    2,
                )
                .await
                .expect("import again");
            assert_eq!(added, 1, "carol replaced, eleni new");
            let all = store.people(100).await.expect("people");
            assert_eq!(
                all.iter().map(|p| p.account.as_str()).collect::<Vec<_>>(),
                ["carol", "eleni", "piotr"]
            );
            let named = store
                .people_named(&["carol".into(), "nobody".into()])
                .await
                .expect("lookup");
            assert_eq!(named.len(), 1);
            assert_eq!(named["carol"].display_name, "Carol Smith");
            assert!(store.delete_person("piotr").await.expect("delete"));
            assert!(!store.delete_person("piotr").await.expect("delete twice"));
        }
    }
}
