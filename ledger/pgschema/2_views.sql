-- toll ledger schema, version 2: read-only views for auditors.
--
-- toll_payments: one row per reserved call, with its current status (the kind of its
-- last outcome event: reserved, unknown, settled, released or voided), its amount, its
-- times and the transaction that settled it. counted is true while the amount counts
-- against the caps (reserved, unknown, settled).

CREATE VIEW toll_payments AS
SELECT r.call_id,
       r.seq                              AS reserved_seq,
       r.time                             AS reserved_at,
       COALESCE(o.kind, 'reserved')       AS status,
       COALESCE(o.time, r.time)           AS updated_at,
       COALESCE(o.kind, 'reserved') IN ('reserved', 'unknown', 'settled') AS counted,
       r.agent, r.session, r.api, r.tool, r.method, r.url,
       r.network, r.asset, r.amount, r.amount_atomic, r.pay_to, r.payer, r.payment_id,
       s.tx_hash,
       o.reason,
       o.http_status
FROM toll_events r
LEFT JOIN LATERAL (
    SELECT e.kind, e.time, e.reason, e.http_status
    FROM toll_events e
    WHERE e.call_id = r.call_id AND e.seq > r.seq
      AND e.kind IN ('settled', 'unknown', 'released', 'voided')
    ORDER BY e.seq DESC
    LIMIT 1
) o ON true
LEFT JOIN LATERAL (
    SELECT e.tx_hash
    FROM toll_events e
    WHERE e.call_id = r.call_id AND e.seq > r.seq AND e.kind = 'settled'
    ORDER BY e.seq DESC
    LIMIT 1
) s ON true
WHERE r.kind = 'reserved';

-- Totals of the counted amounts (what the caps see) and of the settled ones, per UTC
-- day of reservation, per API and per agent; refusals per day.
CREATE VIEW toll_totals_by_day AS
SELECT (reserved_at AT TIME ZONE 'UTC')::date AS day, asset,
       count(*)                                    AS calls,
       COALESCE(sum(amount) FILTER (WHERE counted), 0)              AS counted,
       COALESCE(sum(amount) FILTER (WHERE status = 'settled'), 0)   AS settled
FROM toll_payments GROUP BY 1, 2;

CREATE VIEW toll_totals_by_api AS
SELECT api, asset,
       count(*)                                    AS calls,
       COALESCE(sum(amount) FILTER (WHERE counted), 0)              AS counted,
       COALESCE(sum(amount) FILTER (WHERE status = 'settled'), 0)   AS settled
FROM toll_payments GROUP BY 1, 2;

CREATE VIEW toll_totals_by_agent AS
SELECT COALESCE(agent, '') AS agent, asset,
       count(*)                                    AS calls,
       COALESCE(sum(amount) FILTER (WHERE counted), 0)              AS counted,
       COALESCE(sum(amount) FILTER (WHERE status = 'settled'), 0)   AS settled
FROM toll_payments GROUP BY 1, 2;

CREATE VIEW toll_refusals AS
SELECT seq, time, call_id, agent, api, tool, amount, cap, cap_limit, cap_used, reason
FROM toll_events WHERE kind = 'refused';
