fn main() {
    std::process::exit(oxirun::cli::main());
}
