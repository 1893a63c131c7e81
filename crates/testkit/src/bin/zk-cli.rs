//! `zk-cli HOST:PORT put KEY VALUE` / `zk-cli HOST:PORT delete KEY` — writes
//! a KV key to ZooKeeper as the znode `/KEY` (parents created as needed;
//! `delete` removes the znode and the parents it leaves empty, up to the
//! first segment), for the KV provider tests (Debian's zkCli.sh starts a
//! JVM per call). Exits 1 with the error on failure.

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(endpoint), Some(op), Some(key)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: zk-cli HOST:PORT put KEY VALUE | delete KEY");
        std::process::exit(2);
    };
    let run = switchyard_testkit::zk_write(endpoint, op, key, args.get(3).map(String::as_str));
    match tokio::time::timeout(std::time::Duration::from_secs(10), run).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("zk-cli: {e}");
            std::process::exit(1);
        }
        Err(_) => {
            eprintln!("zk-cli: timed out");
            std::process::exit(1);
        }
    }
}
