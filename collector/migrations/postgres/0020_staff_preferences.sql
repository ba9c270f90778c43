-- What each member of staff reads the workspace in: their language (en, zh, pl, el; NULL
-- follows the browser) and time zone (an IANA name such as Europe/Warsaw; NULL follows the
-- browser).
ALTER TABLE users ADD COLUMN language TEXT;
ALTER TABLE users ADD COLUMN time_zone TEXT;
