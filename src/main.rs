//! Entry point: parse the command line and run the chosen subcommand. All wiring lives in
//! `cli` (argument parsing) and `daemon` (the `serve` boot sequence).

fn main() {
    std::process::exit(parachute_agent::cli::main());
}
