//! The connections an agent asks the hub to grant (spec 03 §2.4, spec 04 §3): the wire
//! shape `{kind, target, access?, tags?, inject?}` the grants client sends, and the stable
//! grant key. The `wants:` grammar that produces them is `agents::wants`.

use serde::Serialize;

/// How a service credential reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Inject {
    Env,
    Mcp,
}

impl Inject {
    fn as_str(self) -> &'static str {
        match self {
            Inject::Env => "env",
            Inject::Mcp => "mcp",
        }
    }
}

/// One declared connection; serialises to the hub's `{kind, target, access?, tags?, inject?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Connection {
    Vault {
        target: String,
        access: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        tags: Option<Vec<String>>,
    },
    Service {
        target: String,
        inject: Vec<Inject>,
    },
    Mcp {
        target: String,
    },
}

impl Connection {
    pub fn kind(&self) -> &'static str {
        match self {
            Connection::Vault { .. } => "vault",
            Connection::Service { .. } => "service",
            Connection::Mcp { .. } => "mcp",
        }
    }

    pub fn target(&self) -> &str {
        match self {
            Connection::Vault { target, .. }
            | Connection::Service { target, .. }
            | Connection::Mcp { target } => target,
        }
    }

    /// The stable grant key (`connectionKey`): `vault:<n>:<access><sorted tags>`,
    /// `<inject joined by +>:<service>`, `mcp:<url>`.
    pub fn key(&self) -> String {
        match self {
            Connection::Vault {
                target,
                access,
                tags,
            } => {
                let mut t = tags.clone().unwrap_or_default();
                t.sort();
                format!("vault:{target}:{access}{}", t.concat())
            }
            Connection::Service { target, inject } => {
                let mut modes = inject.clone();
                if modes.is_empty() {
                    modes.push(Inject::Env);
                }
                modes.sort();
                let joined: Vec<&str> = modes.iter().map(|m| m.as_str()).collect();
                format!("{}:{target}", joined.join("+"))
            }
            Connection::Mcp { target } => format!("mcp:{target}"),
        }
    }
}
