//! The manager's real Redis client: the `redis` crate's multiplexed async connection behind
//! the model's `RedisBackend`, every call bounded (in real time) by the model's own timeout.

use std::cell::RefCell;

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;

use crate::engine::RealClock;
use crate::model::server::{Call, Ending, RedisBackend};

/// A real client of the server at `url` (through the fault proxy).
pub struct RealRedis {
    client: redis::Client,
    conn: RefCell<Option<MultiplexedConnection>>,
    clock: RealClock,
}

impl RealRedis {
    /// A client of `url`; nothing connects until the manager does.
    pub fn new(url: &str, clock: RealClock) -> redis::RedisResult<RealRedis> {
        Ok(RealRedis {
            client: redis::Client::open(url)?,
            conn: RefCell::new(None),
            clock,
        })
    }

    /// Runs `f` on the current connection within `timeout_ms` scenario ms.
    async fn bounded<F, Fut>(&self, timeout_ms: u64, f: F) -> Ending
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<()>>,
    {
        // Clone out of the cell: no borrow is held across the await.
        let Some(conn) = self.conn.borrow().clone() else {
            return Ending::Failed;
        };
        // Real time and real IO are what this mode measures.
        #[allow(clippy::disallowed_methods)]
        let r = tokio::time::timeout(self.clock.real(timeout_ms), f(conn)).await;
        match r {
            Err(_) => Ending::TimedOut,
            Ok(Err(_)) => Ending::Failed,
            Ok(Ok(())) => Ending::Answered,
        }
    }
}

async fn ping(mut c: MultiplexedConnection) -> redis::RedisResult<()> {
    redis::cmd("PING")
        .query_async::<String>(&mut c)
        .await
        .map(|_| ())
}

impl RedisBackend for RealRedis {
    fn connect(&self, timeout_ms: u64) -> Call<'_> {
        Box::pin(async move {
            self.conn.borrow_mut().take();
            // The model's bound is the only one: the crate's own defaults (1 s to connect,
            // 500 ms per response) would cut in first.
            let cfg = AsyncConnectionConfig::new()
                .set_connection_timeout(None)
                .set_response_timeout(None);
            let attempt = async {
                let c = self
                    .client
                    .get_multiplexed_async_connection_with_config(&cfg)
                    .await?;
                ping(c.clone()).await?;
                Ok::<_, redis::RedisError>(c)
            };
            #[allow(clippy::disallowed_methods)]
            let r = tokio::time::timeout(self.clock.real(timeout_ms), attempt).await;
            match r {
                Err(_) => Ending::TimedOut,
                Ok(Err(_)) => Ending::Failed,
                Ok(Ok(c)) => {
                    *self.conn.borrow_mut() = Some(c);
                    Ending::Answered
                }
            }
        })
    }

    fn ping(&self, timeout_ms: u64) -> Call<'_> {
        Box::pin(self.bounded(timeout_ms, ping))
    }

    fn write(&self, timeout_ms: u64) -> Call<'_> {
        Box::pin(self.bounded(timeout_ms, |mut c| async move {
            redis::cmd("INCR")
                .arg("readysim:writes")
                .query_async::<i64>(&mut c)
                .await
                .map(|_| ())
        }))
    }

    fn drop_connection(&self) {
        self.conn.borrow_mut().take();
    }
}
