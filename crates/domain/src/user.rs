//! People who work in Switchboard.

use crate::string_enum;

string_enum!(
    /// What a user may do. Ordered by power: an admin can do everything a supervisor can.
    Role, "role" {
        /// Answers conversations.
        Agent => "agent",
        /// Manages queues, teams' work and escalations.
        Supervisor => "supervisor",
        /// Configures channels, users and settings.
        Admin => "admin",
    }
);

impl Role {
    fn rank(self) -> u8 {
        match self {
            Role::Agent => 0,
            Role::Supervisor => 1,
            Role::Admin => 2,
        }
    }

    /// Whether this role includes everything `required` may do.
    pub fn at_least(self, required: Role) -> bool {
        self.rank() >= required.rank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.at_least(Role::Agent));
        assert!(Role::Supervisor.at_least(Role::Supervisor));
        assert!(!Role::Agent.at_least(Role::Supervisor));
        assert!(!Role::Supervisor.at_least(Role::Admin));
    }
}
