-- What the answers of a cluster's collection must reflect after the writes any
-- replica carried to it lately (read-your-writes across replicas): one row per
-- collection, merged by every write, read by cached lists on the other replicas.
CREATE TABLE write_marks (
    cluster TEXT NOT NULL,
    grp TEXT NOT NULL,
    resource TEXT NOT NULL,
    resource_version BIGINT NOT NULL,
    gone TEXT NOT NULL,
    strict BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (cluster, grp, resource)
);
