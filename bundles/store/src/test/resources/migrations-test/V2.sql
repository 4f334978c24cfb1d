INSERT INTO item VALUES (2, 'two');
