-- first
CREATE TABLE item (id INT PRIMARY KEY, label VARCHAR(20));
INSERT INTO item VALUES (1, 'one');
