-- A ticket's title in words (`tickets/titles.rs`): the message id and its arguments as JSON,
-- put into the reader's language where it is read. `title` stays, the same words in English,
-- for the API, e-mail and search; tickets opened before this have no words and show `title`.
ALTER TABLE tickets ADD COLUMN title_words TEXT;
