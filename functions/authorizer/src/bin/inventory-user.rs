//! Creates or replaces an API user: hashes the password (Argon2id) and writes the user's
//! SecureString parameter. The password is read from standard input, never from arguments.
//!
//!     echo -n "$PASSWORD" | cargo run -p authorizer --bin inventory-user -- \
//!         --path /runtime-inventory/users --user k8s-agent --role inventory-agent --accounts admin

use inventory_api::auth::Role;
use inventory_identity::is_valid_parameter_path;
use inventory_identity::password::hash_password;
use inventory_identity::users::{is_valid_user_name, SsmUsers, UserRecord};
use std::io::Read;

const USAGE: &str =
    "usage: inventory-user --path /STACK/users --user NAME --role inventory-agent|read-only|scanner|admin \
--accounts ACCOUNT[,ACCOUNT...] [--kms-key-id KEY]   (password on standard input)";

struct Args {
    path: String,
    user: String,
    role: Role,
    accounts: Vec<String>,
    kms_key_id: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut path, mut user, mut role, mut accounts, mut kms_key_id) = (None, None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--path" => path = Some(value),
            "--user" => user = Some(value),
            "--role" => role = Some(Role::parse(&value).ok_or(format!("unknown role {value:?}"))?),
            "--accounts" => {
                accounts = Some(value.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect())
            }
            "--kms-key-id" => kms_key_id = Some(value),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let path: String = path.ok_or("--path is required")?;
    if !is_valid_parameter_path(&path) {
        return Err(format!("--path {path:?} is not an SSM path such as /runtime-inventory/users"));
    }
    let user: String = user.ok_or("--user is required")?;
    if !is_valid_user_name(&user) {
        return Err("--user must be 1 to 64 letters, digits or _.-".into());
    }
    Ok(Args {
        path,
        user,
        role: role.ok_or("--role is required")?,
        accounts: accounts.ok_or("--accounts is required")?,
        kms_key_id,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args(std::env::args().skip(1)).map_err(|error| format!("{error}\n{USAGE}"))?;
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.len() < 12 {
        return Err("the password (standard input) must be at least 12 characters".into());
    }
    let record = UserRecord { password_hash: hash_password(password)?, accounts: args.accounts, role: args.role };
    let users =
        SsmUsers::new(inventory_runtime::client!(inventory_runtime::Sdk::load().await, aws_sdk_ssm), &args.path);
    users.put(&args.user, &record, args.kms_key_id.as_deref()).await?;
    println!("user {} ({}) written to {}", args.user, args.role.as_str(), users.parameter_name(&args.user));
    Ok(())
}
