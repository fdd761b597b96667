-- Name-prefix and e-mail lookups use a UCA 5.2.0 collation.
--
-- Under utf8mb4_unicode_ci (UCA 4.0.0), MariaDB's index range for
-- "display_name LIKE 'prefix%'" misses names with characters outside the
-- Basic Multilingual Plane (an emoji, many CJK extension characters)
-- right after the prefix: the same query finds them with IGNORE INDEX.
-- utf8mb4_unicode_520_ci weighs those characters properly, is still
-- case-insensitive, and exists in MariaDB and MySQL 8.0 alike.
ALTER TABLE party
	MODIFY display_name VARCHAR(300) CHARACTER SET utf8mb4
	    COLLATE utf8mb4_unicode_520_ci NOT NULL,
	MODIFY email VARCHAR(254) CHARACTER SET utf8mb4
	    COLLATE utf8mb4_unicode_520_ci NULL;
