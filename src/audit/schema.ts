/**
 * Audit database schema as an ordered list of migrations. Migration i (1-based) brings a
 * database from `PRAGMA user_version` i-1 to i. Append new migrations; never edit old ones.
 * Pure data, no I/O.
 */
export interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE transitions (
        id           INTEGER PRIMARY KEY,
        at_ms        INTEGER NOT NULL,
        subject_id   INTEGER NOT NULL,
        subject_kind TEXT    NOT NULL CHECK (subject_kind IN ('process', 'tree')),
        pid          INTEGER NOT NULL CHECK (pid >= 0),
        start_time   TEXT    NOT NULL CHECK (start_time GLOB '[0-9]*' AND start_time NOT GLOB '*[^0-9]*'),
        uid          INTEGER NOT NULL,
        comm         TEXT    NOT NULL,
        from_state   INTEGER NOT NULL CHECK (from_state BETWEEN 0 AND 3),
        to_state     INTEGER NOT NULL CHECK (to_state BETWEEN 0 AND 3),
        score        REAL    NOT NULL CHECK (score >= 0 AND score <= 1),
        reason       TEXT    NOT NULL CHECK (reason IN ('escalate', 'decay', 'reset', 'force')),
        "by"         TEXT,
        event_index  INTEGER NOT NULL,
        top_features TEXT    NOT NULL CHECK (json_valid(top_features)),
        model_hashes TEXT    NOT NULL CHECK (json_valid(model_hashes))
      );
      CREATE INDEX transitions_subject ON transitions (subject_id, id);
      CREATE INDEX transitions_pid ON transitions (pid, id);
      CREATE INDEX transitions_at ON transitions (at_ms);

      CREATE TABLE actions (
        id         INTEGER PRIMARY KEY,
        at_ms      INTEGER NOT NULL,
        subject_id INTEGER NOT NULL,
        action     TEXT    NOT NULL CHECK (length(action) > 0),
        target     TEXT    NOT NULL,
        result     TEXT    NOT NULL,
        detail     TEXT    CHECK (detail IS NULL OR json_valid(detail))
      );
      CREATE INDEX actions_subject ON actions (subject_id, id);
      CREATE INDEX actions_at ON actions (at_ms);

      CREATE TABLE drops (
        id     INTEGER PRIMARY KEY,
        at_ms  INTEGER NOT NULL,
        hop    TEXT    NOT NULL CHECK (length(hop) > 0),
        reason TEXT    NOT NULL,
        count  INTEGER NOT NULL CHECK (count >= 0)
      );
      CREATE INDEX drops_at ON drops (at_ms);

      CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        started_ms  INTEGER NOT NULL,
        stopped_ms  INTEGER,
        version     TEXT    NOT NULL,
        config_hash TEXT    NOT NULL
      );
    `,
  },
  {
    // The user-session subject of continuous authentication (docs/biometrics.md): transitions
    // of kind 'session'. SQLite cannot alter a CHECK, so the table is rebuilt with its rows.
    version: 2,
    sql: `
      CREATE TABLE transitions_v2 (
        id           INTEGER PRIMARY KEY,
        at_ms        INTEGER NOT NULL,
        subject_id   INTEGER NOT NULL,
        subject_kind TEXT    NOT NULL CHECK (subject_kind IN ('process', 'tree', 'session')),
        pid          INTEGER NOT NULL CHECK (pid >= 0),
        start_time   TEXT    NOT NULL CHECK (start_time GLOB '[0-9]*' AND start_time NOT GLOB '*[^0-9]*'),
        uid          INTEGER NOT NULL,
        comm         TEXT    NOT NULL,
        from_state   INTEGER NOT NULL CHECK (from_state BETWEEN 0 AND 3),
        to_state     INTEGER NOT NULL CHECK (to_state BETWEEN 0 AND 3),
        score        REAL    NOT NULL CHECK (score >= 0 AND score <= 1),
        reason       TEXT    NOT NULL CHECK (reason IN ('escalate', 'decay', 'reset', 'force')),
        "by"         TEXT,
        event_index  INTEGER NOT NULL,
        top_features TEXT    NOT NULL CHECK (json_valid(top_features)),
        model_hashes TEXT    NOT NULL CHECK (json_valid(model_hashes))
      );
      INSERT INTO transitions_v2 SELECT * FROM transitions;
      DROP TABLE transitions;
      ALTER TABLE transitions_v2 RENAME TO transitions;
      CREATE INDEX transitions_subject ON transitions (subject_id, id);
      CREATE INDEX transitions_pid ON transitions (pid, id);
      CREATE INDEX transitions_at ON transitions (at_ms);
    `,
  },
  {
    // The floors the session subject holds its users' processes at (docs/biometrics.md,
    // "Several users on one host"): current state, not history, so a restarted daemon holds
    // the same processes. One row per uid held at Restricted (2) or Lockdown (3), with the
    // kernel's boot id when it was set (a floor from before a reboot is not restored).
    version: 3,
    sql: `
      CREATE TABLE session_floors (
        uid      INTEGER PRIMARY KEY CHECK (uid >= 0),
        state    INTEGER NOT NULL CHECK (state BETWEEN 2 AND 3),
        user     TEXT,
        boot_id  TEXT    NOT NULL,
        since_ms INTEGER NOT NULL
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;
