-- Back to an empty database: the child table first.
DROP TABLE post;
DROP TABLE "user";
