//! `aep-edge-emulator`: the emulator as a process, for C, C++ and Python tests, the README
//! demo and offline development. Prints its base URL as the first line of stdout.

use std::io::Write;
use std::process::ExitCode;

use aep_edge_emulator::{Emulator, Options, TlsIdentity};

const USAGE: &str = "\
Usage: aep-edge-emulator [OPTIONS]

A local stand-in for the Adobe Experience Platform Edge Network. Prints its base URL
(e.g. http://127.0.0.1:41235) as the first line on stdout, then serves until killed.

Options:
  --port N               port to listen on (default 0: pick a free one)
  --bind IP              address to bind (default 127.0.0.1)
  --require-auth         require Authorization: Bearer, x-api-key and x-gw-ims-org-id
  --validate-tokens      with --require-auth, accept only tokens issued by /ims/token/v3
                         (or given by --static-token) that have not expired
  --static-token T       a token that is always valid (repeatable)
  --tls-cert FILE        PEM certificate chain, leaf first; serve HTTPS only (needs --tls-key)
  --tls-key FILE         PEM private key for --tls-cert
  --datastream ID        a known datastream id (repeatable; default: accept any id)
  --org-id ORG           IMS org for state keys (default 53A16ACB5CC1D3760A495C99@AdobeOrg)
  --hint H               a known location hint (repeatable; replaces or2 va6 irl1 ind1 jpn3 sgp3 aus3)
  --default-hint H       the cluster serving requests without a hint (default or2)
  --token-ttl SECS       expires_in of issued IMS tokens (default 86399)
  --ims-client ID:SECRET an accepted IMS client (repeatable; default: any non-empty pair)
  --max-recorded N       requests kept for /__emulator/requests (default 50000)
  --lenient-identity     serve events that carry no identity at all (default: 400
                         EXEG-0306-400, as server datastreams answer)
  --decisions FILE       JSON object keyed by decision scope or surface: the content
                         (or whole proposition, or null for none) each one gets
  --rate-limit N/s       allow N Edge requests per second, then 429 with Retry-After
  --exit-on-stdin-eof    exit when standard input reaches end of file
  -h, --help             print this help

Test control on the same port: GET /__emulator/health, GET /__emulator/requests,
POST /__emulator/faults (a fault object or array), POST /__emulator/reset.
Live view: open GET /__emulator/ in a browser to watch requests and answers arrive.
";

#[derive(Debug)]
struct Args {
    options: Options,
    exit_on_stdin_eof: bool,
}

enum Parsed {
    Run(Box<Args>),
    Help,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut options = Options::default();
    let mut exit_on_stdin_eof = false;
    let (mut cert, mut key) = (None, None);
    let mut hints: Vec<String> = Vec::new();
    while let Some(arg) = argv.next() {
        // Both "--flag value" and "--flag=value".
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--port" => options.port = number(&flag, &value()?)?,
            "--bind" => {
                let v = value()?;
                options.bind = v
                    .parse()
                    .map_err(|_| format!("--bind: '{v}' is not an IP address"))?;
            }
            "--require-auth" => options.require_auth = true,
            "--validate-tokens" => options.validate_tokens = true,
            "--static-token" => options.static_tokens.push(value()?),
            "--tls-cert" => cert = Some(value()?),
            "--tls-key" => key = Some(value()?),
            "--datastream" => options.datastreams.push(value()?),
            "--org-id" => options.org_id = value()?,
            "--hint" => hints.push(value()?),
            "--default-hint" => options.default_hint = value()?,
            "--token-ttl" => options.token_ttl_secs = number(&flag, &value()?)?,
            "--ims-client" => {
                let v = value()?;
                let (id, secret) = v
                    .split_once(':')
                    .ok_or_else(|| format!("--ims-client: '{v}' is not ID:SECRET"))?;
                options
                    .ims_clients
                    .push((id.to_string(), secret.to_string()));
            }
            "--max-recorded" => options.max_recorded = number(&flag, &value()?)?,
            "--lenient-identity" => options.lenient_identity = true,
            "--decisions" => options.decisions = decisions_file(&value()?)?,
            "--rate-limit" => options.rate_limit_per_sec = Some(rate(&value()?)?),
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            _ => return Err(format!("unknown argument '{arg}'")),
        }
        if inline.is_some() && !takes_value(&flag) {
            return Err(format!("{flag} takes no value"));
        }
    }
    if !hints.is_empty() {
        options.hints = hints;
    }
    options.tls = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(TlsIdentity {
            cert_chain_pem: read(&cert)?,
            key_pem: read(&key)?,
        }),
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    Ok(Parsed::Run(Box::new(Args {
        options,
        exit_on_stdin_eof,
    })))
}

fn takes_value(flag: &str) -> bool {
    !matches!(
        flag,
        "--require-auth"
            | "--validate-tokens"
            | "--exit-on-stdin-eof"
            | "--lenient-identity"
            | "--help"
    )
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag}: '{v}' is not a valid number"))
}

/// `N/s` (or a bare `N`): requests per second, at least 1.
fn rate(v: &str) -> Result<u32, String> {
    let n = v.strip_suffix("/s").unwrap_or(v);
    n.parse::<u32>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("--rate-limit: '{v}' is not N/s with N a positive number"))
}

fn decisions_file(path: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(&read(path)?) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!(
            "--decisions: {path} must hold a JSON object keyed by scope"
        )),
        Err(e) => Err(format!("--decisions: {path} is not JSON: {e}")),
    }
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("aep-edge-emulator: {message}\n(see --help)");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start(args.options) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("aep-edge-emulator: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The first line is the contract with the scripts that start us: flush it now.
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "{}", emulator.base_url())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    if args.exit_on_stdin_eof {
        // The parent holds our stdin; when it dies or closes it, we go too.
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        emulator.shutdown();
        return ExitCode::SUCCESS;
    }
    // SIGTERM/SIGINT end the process with their default action.
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Args, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Parsed::Run(a) => Ok(*a),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn parses_flags() {
        let a = run(&[
            "--port=8080",
            "--bind",
            "::1",
            "--require-auth",
            "--validate-tokens",
            "--static-token",
            "t1",
            "--static-token",
            "t2",
            "--datastream",
            "ds",
            "--org-id",
            "ORG@AdobeOrg",
            "--token-ttl",
            "5",
            "--ims-client",
            "id:se:cret",
            "--hint",
            "xx1",
            "--default-hint",
            "xx1",
            "--exit-on-stdin-eof",
            "--lenient-identity",
            "--rate-limit",
            "25/s",
        ])
        .unwrap();
        let o = &a.options;
        assert_eq!(o.port, 8080);
        assert_eq!(o.bind.to_string(), "::1");
        assert!(o.require_auth && o.validate_tokens && a.exit_on_stdin_eof);
        assert_eq!(o.static_tokens, ["t1", "t2"]);
        assert_eq!(o.datastreams, ["ds"]);
        assert_eq!(o.org_id, "ORG@AdobeOrg");
        assert_eq!(o.token_ttl_secs, 5);
        assert_eq!(o.ims_clients, [("id".to_string(), "se:cret".to_string())]);
        assert_eq!(o.hints, ["xx1"]);
        assert_eq!(o.default_hint, "xx1");
        assert!(o.lenient_identity);
        assert_eq!(o.rate_limit_per_sec, Some(25));
        assert_eq!(
            run(&["--rate-limit=7"]).unwrap().options.rate_limit_per_sec,
            Some(7)
        );
    }

    #[test]
    fn reads_a_decisions_file() {
        let path = std::env::temp_dir().join(format!("emu-decisions-{}.json", std::process::id()));
        std::fs::write(
            &path,
            r#"{"sample-json-offer": {"heroImageName": "a.png"}}"#,
        )
        .unwrap();
        let a = run(&["--decisions", path.to_str().unwrap()]).unwrap();
        assert_eq!(
            a.options.decisions["sample-json-offer"]["heroImageName"],
            "a.png"
        );
        std::fs::write(&path, "[1]").unwrap();
        assert!(run(&["--decisions", path.to_str().unwrap()]).is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(run(&["--decisions", "/nonexistent/x.json"]).is_err());
    }

    #[test]
    fn rejects_bad_flags() {
        assert!(run(&["--nope"]).unwrap_err().contains("--nope"));
        assert!(run(&["--port"]).unwrap_err().contains("needs a value"));
        assert!(run(&["--port", "x"]).is_err());
        assert!(run(&["--bind", "localhost"]).is_err());
        assert!(run(&["--tls-cert", "a.pem"])
            .unwrap_err()
            .contains("together"));
        assert!(run(&["--ims-client", "nocolon"]).is_err());
        assert!(run(&["--require-auth=yes"]).is_err());
        assert!(run(&["--lenient-identity=1"]).is_err());
        for bad in ["0/s", "x/s", "-1", "5/m"] {
            assert!(run(&["--rate-limit", bad]).is_err(), "{bad}");
        }
        assert_eq!(run(&["--help"]).unwrap_err(), "help");
    }
}
