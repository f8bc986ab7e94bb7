-- revision 0009
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE articles (
	id TEXT NOT NULL, 
	path TEXT NOT NULL, 
	size INTEGER NOT NULL, 
	mtime_ns INTEGER NOT NULL, 
	content_hash TEXT NOT NULL, 
	body TEXT NOT NULL, 
	date VARCHAR(40) NOT NULL, 
	seq INTEGER NOT NULL, 
	headline TEXT NOT NULL, 
	language TEXT NOT NULL, 
	first_seen VARCHAR(40) NOT NULL, 
	published VARCHAR(40) NOT NULL, 
	updated VARCHAR(40) NOT NULL, 
	removed_at VARCHAR(40), 
	broadcast BOOLEAN NOT NULL, scheduled BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX articles_order ON articles (removed_at, date, seq, id);
CREATE TABLE chats (
	id TEXT NOT NULL, 
	type TEXT NOT NULL, 
	title TEXT, 
	language TEXT, 
	subscribed BOOLEAN NOT NULL, 
	subscribed_at VARCHAR(40), 
	unsubscribed_at VARCHAR(40), 
	PRIMARY KEY (id)
);
CREATE TABLE state (
	"key" TEXT NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE schema_version (
	version INTEGER NOT NULL
);
CREATE TABLE leases (
	name TEXT NOT NULL, 
	holder TEXT NOT NULL, 
	epoch INTEGER NOT NULL, 
	acquired_at FLOAT NOT NULL, 
	renewed_at FLOAT NOT NULL, 
	expires_at FLOAT NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE inbox (
	id INTEGER NOT NULL, 
	payload TEXT NOT NULL, 
	received_at VARCHAR(40) NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE subscriptions (
	chat TEXT NOT NULL, 
	thread_id INTEGER NOT NULL, 
	language TEXT, 
	mode TEXT NOT NULL, 
	digest TEXT, 
	timezone TEXT, 
	quiet TEXT, 
	quiet_action TEXT NOT NULL, 
	terms TEXT NOT NULL, 
	has_terms BOOLEAN NOT NULL, 
	languages TEXT NOT NULL, 
	style TEXT NOT NULL, 
	version INTEGER NOT NULL, 
	next_digest_at VARCHAR(40), 
	last_digest_at VARCHAR(40), 
	created_at VARCHAR(40) NOT NULL, 
	PRIMARY KEY (chat, thread_id)
);
CREATE INDEX subscriptions_digest_due ON subscriptions (mode, next_digest_at);
CREATE TABLE "deliveries" (
	id INTEGER NOT NULL, 
	article_id TEXT NOT NULL, 
	chat TEXT NOT NULL, 
	status TEXT NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at VARCHAR(40) NOT NULL, 
	message_ids TEXT NOT NULL, 
	error TEXT, 
	created_at VARCHAR(40) NOT NULL, 
	sent_at VARCHAR(40), 
	thread_id INTEGER DEFAULT '0' NOT NULL, 
	kind TEXT DEFAULT 'post' NOT NULL, 
	payload TEXT, rendered TEXT, 
	PRIMARY KEY (id), 
	CONSTRAINT deliveries_once UNIQUE (article_id, chat, thread_id, kind), 
	FOREIGN KEY(article_id) REFERENCES articles (id)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE TABLE edits (
	delivery_id INTEGER NOT NULL, 
	action TEXT NOT NULL, 
	status TEXT NOT NULL, 
	wanted INTEGER NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at VARCHAR(40) NOT NULL, 
	error TEXT, 
	updated_at VARCHAR(40) NOT NULL, 
	PRIMARY KEY (delivery_id), 
	FOREIGN KEY(delivery_id) REFERENCES deliveries (id)
);
CREATE INDEX edits_due ON edits (status, next_attempt_at);
CREATE INDEX articles_scheduled ON articles (scheduled, date);
CREATE TABLE search_docs (
	docid INTEGER NOT NULL, 
	article_id TEXT NOT NULL, 
	PRIMARY KEY (docid), 
	UNIQUE (article_id), 
	FOREIGN KEY(article_id) REFERENCES articles (id)
);
CREATE INDEX articles_language ON articles (language);
CREATE VIRTUAL TABLE search_fts USING fts5(headline, headings, body, content = '', tokenize = 'ascii');
