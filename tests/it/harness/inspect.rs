//! A look inside a running gateway that bypasses its public API: its database and its
//! metrics, for asserting what a request changed.

use super::{pg_host, Gateway};

impl Gateway {
    /// A direct connection to this test's database.
    pub async fn db(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(
            &format!("postgres://postgres@{}/{}", pg_host(), self.db_name),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        client
    }

    /// The refresh generation of the only session in this gateway's database.
    pub async fn refresh_gen(&self) -> i64 {
        self.db()
            .await
            .query_one("SELECT refresh_gen FROM sessions", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// The sum of every series of `name`, so a test need not spell out the labels.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.admin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}
