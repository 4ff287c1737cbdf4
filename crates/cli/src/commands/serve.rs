//! `techlead serve`: the local server (crates/server, docs/server.md) on
//! the database the other commands use, until Ctrl-C or SIGTERM.

use crate::args::ServeArgs;
use crate::database;
use crate::diagnostics::{Style, paint};
use crate::exit::{CliError, Outcome};
use techlead_server::{Config, Server};

pub fn run(args: &ServeArgs) -> Result<Outcome, CliError> {
    let db = database::path(&args.database);
    let mut config = Config::new(db.clone(), database::data_dir(&db));
    config.bind = args.bind;
    if let Some(path) = &args.token_file {
        config.token_file = path.clone();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let result = runtime.block_on(async {
        let server = Server::bind(config.clone()).await?;
        let url = format!("http://{}", server.local_addr());
        eprintln!(
            "techlead serve: {url}/api (database {})",
            database::shown(&db)
        );
        if !server.local_addr().ip().is_loopback() {
            eprintln!(
                "{} listening beyond this machine: anyone with the token can read every mission",
                paint("warning:", Style::Warning)
            );
        }
        eprintln!(
            "token (also in {}): {}",
            config.token_file.display(),
            server.token()
        );
        eprintln!(
            "try: curl -H \"Authorization: Bearer $(cat {})\" {url}/api/missions",
            config.token_file.display()
        );
        // The token rides in the fragment, which the browser never sends:
        // the page trades it for a cookie and drops it from the address.
        eprintln!("dashboard: {url}/#token={}", server.token());
        eprintln!("Ctrl-C stops it.");
        server.run(stopped()).await
    });
    match result {
        Ok(()) => Ok(Outcome::Success),
        Err(techlead_server::Error::Store(e)) => Err(CliError::Store(e)),
        Err(e) => {
            // Printed as every command error is, with the server's hint.
            eprintln!("{}: {e}", paint("error", Style::Error));
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                eprintln!("  {} {cause}", paint("Caused by:", Style::Dim));
                source = cause.source();
            }
            if let Some(hint) = e.hint() {
                eprintln!("  {} {hint}", paint("hint:", Style::Hint));
            }
            std::process::exit(2)
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async move {
        match term.as_mut() {
            Some(term) => {
                term.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    eprintln!("techlead serve: stopped");
}
