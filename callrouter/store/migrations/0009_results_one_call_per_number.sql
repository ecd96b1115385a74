-- One results call to a number at a time: taking a notification looks for another of
-- its number that is open (pending or being dialled).
CREATE INDEX notifications_open_number ON notifications (number) WHERE state IN ('pending', 'dialling');
