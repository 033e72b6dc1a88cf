//! The gRPC API: parses requests into domain values, checks the caller, and
//! hands over to storage.

use hms_domain::{CompanyId, CompanyName, EmailAddress, Language, OrgNumber, PhoneNumber, Reason};
use hms_grpc::paging;
use hms_grpc::status::{enum_field, invalid_field, missing_field, parse_id};
use hms_proto::companies::v1 as pb;
use hms_proto::time::timestamp;
use hms_proto::{EnumError, ProtoEnum};
use tonic::{Request, Response, Status};

use hms_auth::UserCaller;
use hms_authz::Action;

use crate::authz::Guard;
use crate::domain::{
    Acceptance, Agreement, AgreementText, Company, CompanyStatus, ContactChange, Decision,
    NewCompany, NewContact,
};
use crate::storage::{Cursor, Store};

/// How many contact changes `ListContactHistory` shows.
const CONTACT_HISTORY_LIMIT: i64 = 100;

pub struct CompanyApi {
    store: Store,
    guard: Guard,
}

impl CompanyApi {
    pub fn new(store: Store, guard: Guard) -> Self {
        Self { store, guard }
    }

    /// Parses `company_id` and lets the person do `action` on the company.
    async fn authorize<T>(
        &self,
        request: &Request<T>,
        company_id: &str,
        action: Action,
    ) -> Result<(CompanyId, UserCaller), Status> {
        let id = parse_id("company_id", company_id, CompanyId::parse)?;
        let person = self
            .guard
            .company(&hms_grpc::caller(request), id, action)
            .await?;
        Ok((id, person))
    }

    async fn decide<T>(
        &self,
        request: &Request<T>,
        company_id: &str,
        decision: Decision,
    ) -> Result<pb::Company, Status> {
        let (id, decided_by) = self
            .authorize(request, company_id, Action::CompaniesDecide)
            .await?;
        let company = self
            .store
            .decide(id, decision, &decided_by.audit_name())
            .await?;
        Ok(company_to_proto(company))
    }
}

#[tonic::async_trait]
impl pb::company_service_server::CompanyService for CompanyApi {
    async fn register_company(
        &self,
        request: Request<pb::RegisterCompanyRequest>,
    ) -> Result<Response<pb::RegisterCompanyResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let new = parse_new_company(request.into_inner())?;
        self.guard.register(&caller, &new.org_number).await?;
        let company = self.store.register(new).await?;
        Ok(Response::new(pb::RegisterCompanyResponse {
            company: Some(company_to_proto(company)),
        }))
    }

    async fn get_company(
        &self,
        request: Request<pb::GetCompanyRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let id = parse_id(
            "company_id",
            &request.get_ref().company_id,
            CompanyId::parse,
        )?;
        self.guard.read(&hms_grpc::caller(&request), id).await?;
        let company = self.store.get(id).await?;
        Ok(Response::new(pb::GetCompanyResponse {
            company: Some(company_to_proto(company)),
        }))
    }

    async fn list_companies(
        &self,
        request: Request<pb::ListCompaniesRequest>,
    ) -> Result<Response<pb::ListCompaniesResponse>, Status> {
        self.guard.back_office(&hms_grpc::caller(&request)).await?;
        let request = request.into_inner();
        let status = match CompanyStatus::from_i32(request.status) {
            Ok(status) => Some(status),
            Err(EnumError::Unspecified) => None,
            Err(EnumError::Unknown) => {
                return Err(invalid_field("status", "is not a known status"));
            }
        };
        let limit = paging::page_size(request.page_size, 50, 500);
        let after = paging::decode_token(&request.page_token)?
            .map(|(registered_at, id)| Cursor { registered_at, id });
        let companies = self.store.list(status, after, limit).await?;
        let next_page_token = match companies.last() {
            Some(last) if companies.len() == limit as usize => {
                paging::encode_token(last.registered_at, last.id.as_uuid())
            }
            _ => String::new(),
        };
        Ok(Response::new(pb::ListCompaniesResponse {
            companies: companies.into_iter().map(company_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn approve_company(
        &self,
        request: Request<pb::ApproveCompanyRequest>,
    ) -> Result<Response<pb::ApproveCompanyResponse>, Status> {
        let company = self
            .decide(&request, &request.get_ref().company_id, Decision::Approve)
            .await?;
        Ok(Response::new(pb::ApproveCompanyResponse {
            company: Some(company),
        }))
    }

    async fn reject_company(
        &self,
        request: Request<pb::RejectCompanyRequest>,
    ) -> Result<Response<pb::RejectCompanyResponse>, Status> {
        let reason = parse_reason(&request.get_ref().reason)?;
        let company = self
            .decide(
                &request,
                &request.get_ref().company_id,
                Decision::Reject(reason),
            )
            .await?;
        Ok(Response::new(pb::RejectCompanyResponse {
            company: Some(company),
        }))
    }

    async fn suspend_company(
        &self,
        request: Request<pb::SuspendCompanyRequest>,
    ) -> Result<Response<pb::SuspendCompanyResponse>, Status> {
        let reason = parse_reason(&request.get_ref().reason)?;
        let company = self
            .decide(
                &request,
                &request.get_ref().company_id,
                Decision::Suspend(reason),
            )
            .await?;
        Ok(Response::new(pb::SuspendCompanyResponse {
            company: Some(company),
        }))
    }

    async fn update_contact_info(
        &self,
        request: Request<pb::UpdateContactInfoRequest>,
    ) -> Result<Response<pb::UpdateContactInfoResponse>, Status> {
        let contact = parse_contact(request.get_ref().contact.clone())?;
        let (id, person) = self
            .authorize(
                &request,
                &request.get_ref().company_id,
                Action::ContactWrite,
            )
            .await?;
        let company = self
            .store
            .update_contact(id, contact, person.user_id)
            .await?;
        Ok(Response::new(pb::UpdateContactInfoResponse {
            company: Some(company_to_proto(company)),
        }))
    }

    async fn list_contact_history(
        &self,
        request: Request<pb::ListContactHistoryRequest>,
    ) -> Result<Response<pb::ListContactHistoryResponse>, Status> {
        let (id, _) = self
            .authorize(&request, &request.get_ref().company_id, Action::CompanyRead)
            .await?;
        let changes = self
            .store
            .contact_history(id, CONTACT_HISTORY_LIMIT)
            .await?;
        Ok(Response::new(pb::ListContactHistoryResponse {
            changes: changes.into_iter().map(change_to_proto).collect(),
        }))
    }

    async fn get_agreement(
        &self,
        request: Request<pb::GetAgreementRequest>,
    ) -> Result<Response<pb::GetAgreementResponse>, Status> {
        let (id, _) = self
            .authorize(&request, &request.get_ref().company_id, Action::CompanyRead)
            .await?;
        let (current, acceptances) = self.store.agreement(id).await?;
        Ok(Response::new(pb::GetAgreementResponse {
            current_accepted: acceptances
                .iter()
                .any(|acceptance| acceptance.version == current.version),
            current: Some(agreement_to_proto(current)),
            acceptances: acceptances.into_iter().map(acceptance_to_proto).collect(),
        }))
    }

    async fn accept_agreement(
        &self,
        request: Request<pb::AcceptAgreementRequest>,
    ) -> Result<Response<pb::AcceptAgreementResponse>, Status> {
        let version = match request.get_ref().version {
            0 => return Err(missing_field("version")),
            version => version,
        };
        let (id, person) = self
            .authorize(
                &request,
                &request.get_ref().company_id,
                Action::AccessManage,
            )
            .await?;
        let acceptance = self
            .store
            .accept_agreement(id, version, person.user_id)
            .await?;
        Ok(Response::new(pb::AcceptAgreementResponse {
            acceptance: Some(acceptance_to_proto(acceptance)),
        }))
    }

    async fn publish_agreement(
        &self,
        request: Request<pb::PublishAgreementRequest>,
    ) -> Result<Response<pb::PublishAgreementResponse>, Status> {
        let text = AgreementText::parse(&request.get_ref().text)
            .map_err(|error| invalid_field("text", error))?;
        let publisher = self
            .guard
            .publish_agreement(&hms_grpc::caller(&request))
            .await?;
        let agreement = self
            .store
            .publish_agreement(&text, &publisher.audit_name())
            .await?;
        Ok(Response::new(pb::PublishAgreementResponse {
            agreement: Some(agreement_to_proto(agreement)),
        }))
    }
}

fn agreement_to_proto(agreement: Agreement) -> pb::Agreement {
    pb::Agreement {
        version: agreement.version,
        text: agreement.text,
        sha256: agreement.sha256,
        published_at: Some(timestamp(agreement.published_at)),
    }
}

fn acceptance_to_proto(acceptance: Acceptance) -> pb::AgreementAcceptance {
    pb::AgreementAcceptance {
        version: acceptance.version,
        sha256: acceptance.sha256,
        accepted_by_user_id: acceptance.accepted_by.to_string(),
        accepted_at: Some(timestamp(acceptance.accepted_at)),
    }
}

fn parse_contact(contact: Option<pb::ContactInfo>) -> Result<NewContact, Status> {
    let contact = contact.ok_or_else(|| missing_field("contact"))?;
    Ok(NewContact {
        email: EmailAddress::parse(&contact.email)
            .map_err(|e| invalid_field("contact.email", e))?,
        phone: PhoneNumber::parse(&contact.phone).map_err(|e| invalid_field("contact.phone", e))?,
    })
}

fn parse_new_company(request: pb::RegisterCompanyRequest) -> Result<NewCompany, Status> {
    let contact = parse_contact(request.contact)?;
    let industry = enum_field("industry", "industry", request.industry)?;
    Ok(NewCompany {
        org_number: OrgNumber::parse(&request.org_number)
            .map_err(|e| invalid_field("org_number", e))?,
        name: CompanyName::parse(&request.name).map_err(|e| invalid_field("name", e))?,
        email: contact.email,
        phone: contact.phone,
        industry,
        // Left out: Norwegian bokmål.
        language: match Language::from_i32(request.language) {
            Ok(language) => language,
            Err(EnumError::Unspecified) => Language::Nb,
            Err(EnumError::Unknown) => {
                return Err(invalid_field("language", "is not a known language"));
            }
        },
    })
}

fn parse_reason(reason: &str) -> Result<Reason, Status> {
    Reason::parse(reason).map_err(|error| invalid_field("reason", error))
}

hms_proto::proto_enum!(CompanyStatus => pb::CompanyStatus { Pending, Approved, Rejected, Suspended });

fn company_to_proto(company: Company) -> pb::Company {
    pb::Company {
        company_id: company.id.to_string(),
        org_number: company.org_number,
        name: company.name,
        contact: Some(pb::ContactInfo {
            email: company.email,
            phone: company.phone,
        }),
        industry: company.industry.to_i32(),
        language: company.language.to_i32(),
        status: company.status.to_i32(),
        status_reason: company.status_reason.unwrap_or_default(),
        registered_at: Some(timestamp(company.registered_at)),
        updated_at: Some(timestamp(company.updated_at)),
        version: company.version,
    }
}

fn change_to_proto(change: ContactChange) -> pb::ContactChange {
    pb::ContactChange {
        old_contact: Some(pb::ContactInfo {
            email: change.old_email,
            phone: change.old_phone,
        }),
        new_contact: Some(pb::ContactInfo {
            email: change.new_email,
            phone: change.new_phone,
        }),
        changed_by_user_id: change.changed_by.to_string(),
        changed_at: Some(timestamp(change.changed_at)),
        version: change.version,
    }
}
