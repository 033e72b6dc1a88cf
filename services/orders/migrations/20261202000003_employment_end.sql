-- The last day of a worker's employment, when the company states it at
-- order time: the card is valid until the end of that day instead of two
-- years (the regulation: a card is valid only while the employment lasts).
ALTER TABLE workers ADD COLUMN employment_ends_on date;
