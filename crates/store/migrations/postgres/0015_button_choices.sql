-- The bot reads a pressed button's data from the inbound event of each customer message
-- (message_button_data); without this index every lookup scanned the whole event log.
CREATE INDEX inbound_events_message ON inbound_events (message_id);
