-- Customer SMS as Africa's Talking took them, and what its delivery reports said since (issue 19):
-- one row per message AT accepted (its `messageId`), written by the `sms.send` job; the delivery
-- report webhook moves `delivery_status` forward only (Sent → Submitted → Buffered → a final
-- Rejected / Success / Failed, which no later report changes).
create table sms_messages (
    id              uuid primary key default gen_random_uuid(),
    message_id      text not null,
    -- the payout it confirms, when it is a payout confirmation
    redemption_id   uuid,
    phone_number    text not null,
    delivery_status text not null,
    status_at       timestamptz not null,
    failure_reason  text,
    network_code    text,
    retry_count     integer,
    reports         integer not null default 0,
    sent_at         timestamptz not null,
    constraint sms_messages_message_id_key unique (message_id),
    constraint sms_messages_delivery_status_check
        check (delivery_status in ('Sent', 'Submitted', 'Buffered', 'Rejected', 'Success', 'Failed'))
);
create index sms_messages_redemption_idx on sms_messages (redemption_id, sent_at desc) where redemption_id is not null;
