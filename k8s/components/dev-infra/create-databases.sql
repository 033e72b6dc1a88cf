-- One database per service: a service never touches another's tables.
-- Runs once, when the postgres image initialises an empty data volume. The
-- dev overlay also sets HMS_DATABASE_CREATE=true, so a database added later
-- appears on an existing volume too.
CREATE DATABASE hms_identity;
CREATE DATABASE hms_companies;
CREATE DATABASE hms_orders;
CREATE DATABASE hms_media;
CREATE DATABASE hms_redaction;
CREATE DATABASE hms_notifications;
CREATE DATABASE hms_cards;
CREATE DATABASE hms_audit;
