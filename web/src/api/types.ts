/** Aliases for the API's schemas (generated types in ./schema.d.ts: `npm run gen:api`). */
import type { components } from "./schema";

type S = components["schemas"];

export type Accepted = S["Accepted"];
export type ApiKeyView = S["ApiKeyView"];
export type AssignRequest = S["AssignRequest"];
export type AttemptView = S["AttemptView"];
export type AttributeSpec = S["AttributeSpec"];
export type AttributeValueOption = S["AttributeValueOption"];
export type CategoryBody = S["CategoryBody"];
export type CategorySpec = S["CategorySpec"];
export type CommentRequest = S["CommentRequest"];
export type CommentView = S["CommentView"];
export type CreateUserRequest = S["CreateUserRequest"];
export type CreatedEndpoint = S["CreatedEndpoint"];
export type DeliveryPage = S["DeliveryPage"];
export type DeliveryView = S["DeliveryView"];
export type DeviceRegistration = S["DeviceRegistration"];
export type DeviceView = S["DeviceView"];
export type Distribution = S["Distribution"];
export type EditRequest = S["EditRequest"];
export type EmailVerified = S["EmailVerified"];
export type EndpointView = S["EndpointView"];
export type FeedPage = S["FeedPage"];
export type FieldError = S["FieldError"];
export type FollowedPage = S["FollowedPage"];
export type HeatCell = S["HeatCell"];
export type Heatmap = S["Heatmap"];
export type HistoryEntry = S["HistoryEntry"];
export type IssueDetail = S["IssueDetail"];
export type IssueSummary = S["IssueSummary"];
export type IssuedApiKey = S["IssuedApiKey"];
export type LateCounts = S["LateCounts"];
export type MapCell = S["MapCell"];
export type MapCells = S["MapCells"];
export type MarkedRead = S["MarkedRead"];
export type MediaState = S["MediaState"];
export type NewApiKey = S["NewApiKey"];
export type NewEndpoint = S["NewEndpoint"];
export type NotificationItem = S["NotificationItem"];
export type Open311Errors = S["Open311Errors"];
export type Page = S["Page"];
export type PasswordResetAccepted = S["PasswordResetAccepted"];
export type PasswordResetConfirm = S["PasswordResetConfirm"];
export type PasswordResetRequest = S["PasswordResetRequest"];
export type PhotoView = S["PhotoView"];
export type Point = S["Point"];
export type Preferences = S["Preferences"];
export type PreferencesChange = S["PreferencesChange"];
export type Problem = S["Problem"];
export type RegisterRequest = S["RegisterRequest"];
export type RegistrationAccepted = S["RegistrationAccepted"];
export type ReportIssueRequest = S["ReportIssueRequest"];
export type Summary = S["Summary"];
export type TimeSeries = S["TimeSeries"];
export type TokenResponse = S["TokenResponse"];
export type TransitionRequest = S["TransitionRequest"];
export type UploadRequest = S["UploadRequest"];
export type UploadTicket = S["UploadTicket"];
export type Uploaded = S["Uploaded"];
export type UserView = S["UserView"];
export type ValidationProblem = S["ValidationProblem"];
export type ViewerState = S["ViewerState"];
export type WatchList = S["WatchList"];
export type WatchRequest = S["WatchRequest"];
export type WatchView = S["WatchView"];

export type Role = UserView["role"];
export type IssueStatus = IssueSummary["status"];
export type Priority = IssueSummary["priority"];
/** Any cursor-paged list: `items` and `next_cursor` (null or absent at the end). */
export interface Paged<T> {
  items: T[];
  next_cursor?: string | null;
}
