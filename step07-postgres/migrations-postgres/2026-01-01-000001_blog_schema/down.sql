-- Back to an empty database: the child tables first.
DROP TABLE session;
DROP TABLE post;
DROP TABLE "user";
