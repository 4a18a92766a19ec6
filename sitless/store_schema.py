"""The store's schema as an ordered list of migrations; ``PRAGMA user_version`` records how many ran.

Migration ``i`` takes a database from version ``i`` to ``i + 1``. A migration is never edited once
released: a change is a new migration appended at the end, so every existing file can be brought
forward in place (and a file from a newer sitless is refused rather than misread).

Space matters (a year of one person's data must stay well under 50 MB), so the two big tables are
``WITHOUT ROWID`` tables keyed on (sensor, time) with integer epoch seconds, and sensors are small
integers rather than repeated strings.
"""

from __future__ import annotations

#: Column order of the per-minute table (UNKNOWN is not stored: a second without data is just absent).
MINUTE_COLUMNS: tuple[str, ...] = (
    "nonwear_s",
    "sitting_s",
    "standing_s",
    "walking_s",
    "lying_s",
    "cycling_s",
)
#: Posture code (``sitless.analysis.postures.Posture``) stored in each of ``MINUTE_COLUMNS``.
MINUTE_POSTURE_CODES: tuple[int, ...] = (1, 2, 3, 4, 5, 6)

_V1 = """
CREATE TABLE sensors (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,          -- sensor_id given by the caller (BLE address or 'default')
    model       TEXT,
    last_second INTEGER                         -- last posture second stored (inclusive), for replay safety
);
CREATE TABLE sessions (
    id       INTEGER PRIMARY KEY,
    sensor   INTEGER NOT NULL REFERENCES sensors(id),
    model    TEXT,
    started  REAL NOT NULL,
    ended    REAL
);
CREATE TABLE spells (                           -- run-length postures; UNKNOWN runs are not stored
    sensor   INTEGER NOT NULL REFERENCES sensors(id),
    start    INTEGER NOT NULL,                  -- epoch s, inclusive
    end      INTEGER NOT NULL,                  -- epoch s, exclusive
    posture  INTEGER NOT NULL,
    PRIMARY KEY (sensor, start)
) WITHOUT ROWID;
CREATE TABLE minutes (                          -- seconds per posture in each UTC minute
    sensor     INTEGER NOT NULL REFERENCES sensors(id),
    minute     INTEGER NOT NULL,                -- epoch s of the minute's first second
    nonwear_s  INTEGER NOT NULL DEFAULT 0,
    sitting_s  INTEGER NOT NULL DEFAULT 0,
    standing_s INTEGER NOT NULL DEFAULT 0,
    walking_s  INTEGER NOT NULL DEFAULT 0,
    lying_s    INTEGER NOT NULL DEFAULT 0,
    cycling_s  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sensor, minute)
) WITHOUT ROWID;
CREATE TABLE prompts (
    prompt_id     TEXT PRIMARY KEY,
    ts            REAL NOT NULL,
    sitting_s     REAL NOT NULL,
    level         INTEGER NOT NULL,
    exercise      TEXT NOT NULL,
    outcome_known INTEGER NOT NULL DEFAULT 0,   -- 1 once set_prompt_outcome ran
    stood_after_s REAL                          -- NULL: did not stand within 5 min (or not known yet)
);
CREATE INDEX prompts_ts ON prompts(ts);
CREATE TABLE battery (
    sensor  INTEGER NOT NULL REFERENCES sensors(id),
    ts      REAL NOT NULL,
    percent INTEGER NOT NULL,
    PRIMARY KEY (sensor, ts)
) WITHOUT ROWID;
CREATE TABLE outbox (                           -- MQTT messages not yet acknowledged by the broker
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    topic      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    qos        INTEGER NOT NULL,
    retain     INTEGER NOT NULL,
    created    REAL NOT NULL
);
CREATE TABLE state (                            -- small JSON documents: crash-safe daemon state
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    updated REAL NOT NULL
);
"""

_V2 = """
CREATE TABLE raw_chunks (                       -- raw samples, only when [store] keep_raw_days > 0
    sensor INTEGER NOT NULL REFERENCES sensors(id),
    t0     REAL NOT NULL,
    t1     REAL NOT NULL,
    n      INTEGER NOT NULL,
    t      BLOB NOT NULL,                        -- float64 little-endian epoch seconds
    xyz    BLOB NOT NULL,                        -- float32 little-endian, n x 3, in g
    PRIMARY KEY (sensor, t0)
) WITHOUT ROWID;
CREATE INDEX raw_chunks_t1 ON raw_chunks(t1);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2)
LATEST_VERSION = len(MIGRATIONS)
