-- toll ledger schema, version 1: the ledger's state and its events.
--
-- toll_kv holds the state the ledger derives from its events (call records, counters,
-- the rolling-day index, the open call index, the approval queue, the chain head), as
-- the same keys and values a bbolt ledger holds. toll_events holds the hash chain: one
-- row per event, record being the exact bytes its hash covers, with the event's fields
-- in typed columns for SQL. toll reads and writes both; nothing else should write them.

CREATE TABLE toll_kv (
    bucket text  NOT NULL,
    key    bytea NOT NULL,
    value  bytea NOT NULL,
    PRIMARY KEY (bucket, key)
);

CREATE TABLE toll_events (
    seq           bigint      PRIMARY KEY CHECK (seq > 0),
    prev          bytea       NOT NULL,
    hash          bytea       NOT NULL,
    record        bytea       NOT NULL,
    time          timestamptz NOT NULL,
    kind          text        NOT NULL,
    call_id       text,
    agent         text,
    session       text,
    api           text,
    tool          text,
    method        text,
    url           text,
    network       text,
    asset         text,
    amount        numeric,
    amount_atomic numeric,
    pay_to        text,
    payer         text,
    nonce         text,
    valid_before  timestamptz,
    payment_id    text,
    tx_hash       text,
    reason        text,
    http_status   int,
    cap           text,
    cap_limit     numeric,
    cap_used      numeric,
    decided_by    text,
    artifacts     text,
    signature     text
);

CREATE INDEX toll_events_call_id ON toll_events (call_id);
CREATE INDEX toll_events_time ON toll_events (time);
