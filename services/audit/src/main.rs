fn main() -> std::process::ExitCode {
    hms_runtime::main::<hms_audit::Audit>()
}
