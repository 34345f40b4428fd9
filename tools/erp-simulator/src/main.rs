//! `erp-simulator --port 8090 --token secret`: the ERP of contract sections 4 and 5 (sales orders, the changes feed, snapshot exports), with faults.

use clap::Parser;

#[derive(Parser)]
#[command(about = "An ERP speaking contract sections 4 and 5, with switchable faults")]
struct Args {
    #[arg(long, default_value_t = 8090)]
    port: u16,
    #[arg(long, env = "ERP_TOKEN", default_value = "local-erp-token")]
    token: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let simulator = erp_simulator::Simulator::start(args.port, &args.token).await?;
    println!(
        "ERP simulator on {} (token {})",
        simulator.base_url, args.token
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
