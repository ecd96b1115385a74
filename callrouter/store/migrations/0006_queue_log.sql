-- Asterisk's queue_log, rendered from the router's records (issue 16), for tools that
-- read app_queue's log (QueueMetrics and the like). The columns of Asterisk's
-- realtime queue_log table: time (whole seconds, as app_queue writes them), callid
-- (the call's call_id), queuename, agent (an agent's id, or NONE), event and
-- data1..data5 (text, '' when unused), as app_queue fills them for each event; then
-- at, the exact instant, to order the rows of one second (app_queue's table has its
-- id for that). Durations are whole-second differences of the rows' own times, as
-- app_queue's time(NULL) arithmetic gives them; ring times in ms from the instants.
--
-- The queue name is the topic: the router's one queue is what an app_queue
-- deployment builds as one queue per skill, and tools group by queue name. An
-- overflow to another topic is what a dialplan sending Queue()'s timeout to a second
-- Queue() logs: EXITWITHTIMEOUT in one queue, ENTERQUEUE in the next. Positions are
-- app_queue's: among the callers then waiting in the same topic, in the router's order
-- (priority, then join time). Agents belong to the whole centre, not to a topic, so
-- their membership and pauses are logged as app_queue logs a member's change across
-- every queue (queuename NONE: ADDMEMBER, REMOVEMEMBER, PAUSEALL, UNPAUSEALL).
-- The caller's number is in ENTERQUEUE as app_queue logs it ('' when withheld):
-- grant a tool this view, not the tables.

-- A caller's stay in one topic's queue: from its 'queued' step to the first step that
-- took it out (none while it still waits). An overflow to another topic ends one stay
-- and starts the next, at one instant: steps of one instant keep their written order.
-- A 'bridged' step names the agent, and may name the agent's channel after it.
CREATE VIEW queue_log_stays AS
SELECT q.call_id,
       split_part(q.detail, ' (', 1) AS queuename,
       q.at                          AS entered_at,
       q.id                          AS entered_id,
       o.kind                        AS left_by,
       o.at                          AS left_at,
       o.detail                      AS left_detail,
       CASE WHEN o.kind = 'bridged' THEN split_part(o.detail, ' ', 1) END AS agent,
       CASE WHEN o.kind = 'bridged' THEN split_part(o.detail, ' ', 2) END AS agent_channel
FROM call_events q
LEFT JOIN LATERAL (
    SELECT y.kind, y.at, y.detail
    FROM call_events y
    WHERE y.call_id = q.call_id
      AND (y.at, y.id) > (q.at, q.id)
      AND y.kind IN ('queued', 'bridged', 'overflow', 'replaced', 'callback_booked',
                     'results_consult_callback', 'ended')
    ORDER BY y.at, y.id
    LIMIT 1
) o ON true
WHERE q.kind = 'queued';

-- The callers alive at an instant, found by their span (what a position looks through).
CREATE INDEX calls_span ON calls USING gist (tstzrange(started_at, ended_at, '[]'));

-- 1 + the callers waiting in the same queue at that instant ahead of this call.
CREATE FUNCTION queue_log_position(queue text, call uuid, at timestamptz) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT 1 + count(*)::integer
    FROM calls me
    JOIN calls other
      ON tstzrange(other.started_at, other.ended_at, '[]') @> $3
     AND other.call_id <> me.call_id
    JOIN queue_log_stays stay
      ON stay.call_id = other.call_id
     AND stay.queuename = $1
     AND stay.entered_at <= $3
     AND (stay.left_at IS NULL OR stay.left_at > $3)
    WHERE me.call_id = $2
      AND (COALESCE(other.priority, 0) > COALESCE(me.priority, 0)
           OR (COALESCE(other.priority, 0) = COALESCE(me.priority, 0)
               AND (other.queued_at, other.call_id) < (me.queued_at, me.call_id)))
$$;

-- Whole seconds between two instants as app_queue counts them: time(NULL) - time(NULL).
CREATE FUNCTION queue_log_seconds(since timestamptz, until timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT (floor(extract(epoch FROM $2)) - floor(extract(epoch FROM $1)))::bigint
$$;

-- The queue a step of a call happened in: that of the call's last 'queued' step before it.
CREATE FUNCTION queue_log_queue_of(call uuid, at timestamptz, id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT split_part(q.detail, ' (', 1)
    FROM call_events q
    WHERE q.call_id = $1 AND q.kind = 'queued' AND (q.at, q.id) < ($2, $3)
    ORDER BY q.at DESC, q.id DESC
    LIMIT 1
$$;

CREATE VIEW queue_log AS
-- ENTERQUEUE url|callerid|position
SELECT date_trunc('second', s.entered_at) AS time,
       s.call_id::text AS callid,
       s.queuename,
       'NONE'::text AS agent,
       'ENTERQUEUE'::text AS event,
       ''::text AS data1,
       COALESCE(c.caller_number, '') AS data2,
       queue_log_position(s.queuename, s.call_id, s.entered_at)::text AS data3,
       ''::text AS data4,
       ''::text AS data5,
       s.entered_at AS at
FROM queue_log_stays s
JOIN calls c USING (call_id)
UNION ALL
-- RINGNOANSWER ringtime (ms): an agent rung for the caller did not answer (or was busy)
SELECT date_trunc('second', m.at), m.call_id::text, stay.queuename, rang.agent, 'RINGNOANSWER',
       floor(extract(epoch FROM m.at - rang.at) * 1000)::bigint::text, '', '', '', '', m.at
FROM call_events m
CROSS JOIN LATERAL (SELECT split_part(m.detail, ':', 1) AS agent) missed
CROSS JOIN LATERAL (
    SELECT o.at, o.id, o.detail AS agent
    FROM call_events o
    WHERE o.call_id = m.call_id AND o.kind = 'offered' AND o.detail = missed.agent
      AND (o.at, o.id) < (m.at, m.id)
    ORDER BY o.at DESC, o.id DESC
    LIMIT 1
) rang
CROSS JOIN LATERAL (SELECT queue_log_queue_of(m.call_id, rang.at, rang.id) AS queuename) stay
WHERE m.kind = 'agent_missed' AND stay.queuename IS NOT NULL
UNION ALL
-- RINGCANCELED ringtime (ms): the caller hung up while an agent rang
SELECT date_trunc('second', n.at), o.call_id::text, stay.queuename, o.detail, 'RINGCANCELED',
       floor(extract(epoch FROM n.at - o.at) * 1000)::bigint::text, '', '', '', '', n.at
FROM call_events o
CROSS JOIN LATERAL (
    SELECT y.kind, y.at
    FROM call_events y
    WHERE y.call_id = o.call_id
      AND (y.at, y.id) > (o.at, o.id)
      AND y.kind IN ('offered', 'agent_missed', 'bridged', 'queued', 'overflow', 'replaced',
                     'callback_booked', 'results_consult_callback', 'ended')
    ORDER BY y.at, y.id
    LIMIT 1
) n
CROSS JOIN LATERAL (SELECT queue_log_queue_of(o.call_id, o.at, o.id) AS queuename) stay
WHERE o.kind = 'offered' AND n.kind = 'ended' AND stay.queuename IS NOT NULL
UNION ALL
-- CONNECT holdtime|bridgedchanneluniqueid|ringtime ('' while 'bridged' names no channel)
SELECT date_trunc('second', s.left_at), s.call_id::text, s.queuename, s.agent, 'CONNECT',
       queue_log_seconds(s.entered_at, s.left_at)::text, s.agent_channel,
       COALESCE(floor(extract(epoch FROM s.left_at - rang.at))::bigint::text, '0'), '', '', s.left_at
FROM queue_log_stays s
LEFT JOIN LATERAL (
    SELECT o.at
    FROM call_events o
    WHERE o.call_id = s.call_id AND o.kind = 'offered' AND o.detail = s.agent
      AND o.at BETWEEN s.entered_at AND s.left_at
    ORDER BY o.at DESC, o.id DESC
    LIMIT 1
) rang ON true
WHERE s.left_by = 'bridged'
UNION ALL
-- COMPLETECALLER / COMPLETEAGENT holdtime|calltime|origposition: who hung up, from the
-- call's end_reason ("agent hung up"; else the caller's channel ended first: the caller,
-- or the router's maximum call duration)
SELECT date_trunc('second', c.ended_at), s.call_id::text, s.queuename, s.agent,
       CASE WHEN c.end_reason = 'agent hung up' THEN 'COMPLETEAGENT' ELSE 'COMPLETECALLER' END,
       queue_log_seconds(s.entered_at, s.left_at)::text,
       queue_log_seconds(s.left_at, c.ended_at)::text,
       queue_log_position(s.queuename, s.call_id, s.entered_at)::text, '', '', c.ended_at
FROM queue_log_stays s
JOIN calls c USING (call_id)
WHERE s.left_by = 'bridged' AND c.ended_at IS NOT NULL
UNION ALL
-- Leaving without an agent: ABANDON, EXITWITHTIMEOUT, EXITEMPTY, WITHDRAW
-- position|origposition|waittime[|info]; EXITWITHKEY key|position|origposition|waittime
SELECT date_trunc('second', s.left_at), s.call_id::text, s.queuename, 'NONE', left_as.event,
       CASE WHEN left_as.event = 'EXITWITHKEY' THEN '1' ELSE now_at.position END,
       CASE WHEN left_as.event = 'EXITWITHKEY' THEN now_at.position ELSE first_at.position END,
       CASE WHEN left_as.event = 'EXITWITHKEY' THEN first_at.position ELSE waited.seconds END,
       CASE left_as.event WHEN 'EXITWITHKEY' THEN waited.seconds WHEN 'WITHDRAW' THEN 'replaced' ELSE '' END,
       '', s.left_at
FROM queue_log_stays s
CROSS JOIN LATERAL (
    SELECT CASE
               WHEN s.left_by = 'ended' THEN 'ABANDON'
               WHEN s.left_by = 'replaced' THEN 'WITHDRAW'
               WHEN s.left_by = 'callback_booked' THEN 'EXITWITHKEY'
               WHEN s.left_by = 'overflow' AND split_part(s.left_detail, ': ', 2) = 'no_agents'
                   THEN 'EXITEMPTY'
               ELSE 'EXITWITHTIMEOUT'  -- the topic's maximum wait; a consultant not found in time
           END AS event
) left_as
CROSS JOIN LATERAL (SELECT queue_log_position(s.queuename, s.call_id, s.left_at)::text AS position) now_at
CROSS JOIN LATERAL (SELECT queue_log_position(s.queuename, s.call_id, s.entered_at)::text AS position) first_at
CROSS JOIN LATERAL (SELECT queue_log_seconds(s.entered_at, s.left_at)::text AS seconds) waited
WHERE s.left_by IN ('ended', 'overflow', 'replaced', 'callback_booked', 'results_consult_callback')
UNION ALL
-- Agents, across every queue: ADDMEMBER [PAUSED], REMOVEMEMBER, PAUSEALL reason, UNPAUSEALL
SELECT date_trunc('second', a.at), 'NONE', 'NONE', a.agent, a.event,
       CASE a.event WHEN 'ADDMEMBER' THEN CASE WHEN a.state = 'paused' THEN 'PAUSED' ELSE '' END
                    WHEN 'PAUSEALL' THEN a.reason
                    ELSE '' END,
       '', '', '', '', a.at
FROM (
    SELECT changed.*,
           CASE
               WHEN changed.state = 'logged_out' THEN
                   CASE WHEN changed.was <> 'logged_out' THEN 'REMOVEMEMBER' END
               WHEN changed.was IS NULL OR changed.was = 'logged_out' THEN 'ADDMEMBER'
               WHEN changed.state = 'paused' AND changed.was <> 'paused' THEN 'PAUSEALL'
               WHEN changed.was = 'paused' AND changed.state <> 'paused' THEN 'UNPAUSEALL'
           END AS event
    FROM (
        SELECT agent_states.*, lag(state) OVER (PARTITION BY agent ORDER BY at, id) AS was
        FROM agent_states
    ) changed
) a
WHERE a.event IS NOT NULL;
