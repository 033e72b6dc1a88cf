//! What notifications asks other services: who acted (identity knows
//! people's names and the supplier each acts under) and, for a company
//! whose registration it missed, the company itself. It never reads their
//! databases.

use hms_grpc::client::ServiceChannel;
use hms_proto::ProtoEnum;
use hms_proto::companies::v1 as companies_pb;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::identity::v1 as pb;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use uuid::Uuid;

use crate::error::NotificationsError;
use crate::notices::Contact;
use crate::storage::KnownCompany;

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
    companies: CompanyServiceClient<ServiceChannel>,
}

impl People {
    pub fn new(identity: ServiceChannel, companies: ServiceChannel) -> Self {
        Self {
            identity: IdentityServiceClient::new(identity),
            companies: CompanyServiceClient::new(companies),
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
            .map_err(|status| NotificationsError::from_call("identity", &status))?;
        Ok(response
            .into_inner()
            .people
            .into_iter()
            .next()
            .map(|person| Actor {
                name: person.name,
                supplier: person.supplier.map(|supplier| Supplier {
                    // A supplier is always named, by its number if need be.
                    name: if supplier.name.is_empty() {
                        supplier.org_number.clone()
                    } else {
                        supplier.name
                    },
                    org_number: supplier.org_number,
                }),
            }))
    }

    /// A company as companies has it now, with its version; `None` if it
    /// does not exist.
    pub async fn company(
        &self,
        company_id: Uuid,
    ) -> Result<Option<(KnownCompany, i64)>, NotificationsError> {
        let answer = self
            .companies
            .clone()
            .get_company(companies_pb::GetCompanyRequest {
                company_id: company_id.to_string(),
            })
            .await;
        let company = match answer {
            Ok(response) => response.into_inner().company,
            Err(status) if status.code() == tonic::Code::NotFound => return Ok(None),
            Err(status) => return Err(NotificationsError::from_call("companies", &status)),
        };
        let Some(company) = company else {
            return Ok(None);
        };
        let contact = company.contact.unwrap_or_default();
        Ok(Some((
            KnownCompany {
                company_id,
                org_number: company.org_number,
                name: company.name,
                contact: Contact {
                    email: contact.email,
                    phone: contact.phone,
                },
                language: hms_domain::Language::from_i32(company.language)
                    .unwrap_or(hms_domain::Language::Nb),
            },
            company.version,
        )))
    }
}
