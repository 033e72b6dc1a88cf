//! Who acted, as a company is told: identity knows people's names and the
//! supplier each acts under; notifications asks it, never its database.

use hms_grpc::client::ServiceChannel;
use hms_proto::identity::v1 as pb;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use uuid::Uuid;

use crate::error::NotificationsError;

/// A person named in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    /// The supplier whose grant they act under for the company.
    pub supplier: Option<Supplier>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supplier {
    pub org_number: String,
    pub name: String,
}

#[derive(Clone)]
pub struct People {
    identity: IdentityServiceClient<ServiceChannel>,
}

impl People {
    pub fn new(identity: ServiceChannel) -> Self {
        Self {
            identity: IdentityServiceClient::new(identity),
        }
    }

    /// Who `user_id` is, seen from `company_id`; `None` if identity does
    /// not know them.
    pub async fn describe(
        &self,
        user_id: Uuid,
        company_id: Uuid,
    ) -> Result<Option<Actor>, NotificationsError> {
        let response = self
            .identity
            .clone()
            .describe_people(pb::DescribePeopleRequest {
                people: vec![pb::PersonInCompany {
                    user_id: user_id.to_string(),
                    company_id: company_id.to_string(),
                }],
            })
            .await
            .map_err(|status| NotificationsError::from_identity(&status))?;
        Ok(response
            .into_inner()
            .people
            .into_iter()
            .next()
            .map(|person| Actor {
                name: person.name,
                supplier: person.supplier.map(|supplier| Supplier {
                    org_number: supplier.org_number,
                    name: supplier.name,
                }),
            }))
    }
}
