package aepedge;

/**
 * Every failure of the library: the aep_edge_status number and the facts of the
 * error object {@code {"error": {...}}}. {@link #httpStatus()} is -1 and
 * {@link #code()} is null when no HTTP answer applies.
 */
public final class EdgeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String kind;
    private final int httpStatus;
    private final String code;
    private final String requestId;
    private final boolean retryable;
    private final String json;

    EdgeException(int status, String json) {
        super(messageOf(status, json));
        this.status = status;
        this.json = json == null ? "{}" : json;
        String k = Json.string(this.json, "kind");
        this.kind = k == null ? "unknown" : k;
        this.httpStatus = Json.integer(this.json, "httpStatus");
        this.code = Json.string(this.json, "code");
        this.requestId = Json.string(this.json, "requestId");
        this.retryable = this.json.contains("\"retryable\":true");
    }

    private static String messageOf(int status, String json) {
        String message = json == null ? null : Json.string(json, "message");
        return "aep-edge status " + status + ": " + (message != null ? message : json);
    }

    /** The aep_edge_status number ({@link Status}). */
    public int status() { return status; }
    /** "http", "transport", "timeout", "auth", "invalid_request", ... */
    public String kind() { return kind; }
    /** The HTTP status of the Edge Network's answer, or -1. */
    public int httpStatus() { return httpStatus; }
    /** The EXEG code, e.g. "EXEG-0003-400", or null. */
    public String code() { return code; }
    /** The request id that was sent, or null when nothing was sent. */
    public String requestId() { return requestId; }
    public boolean retryable() { return retryable; }
    /** The whole error object. */
    public String json() { return json; }
}
