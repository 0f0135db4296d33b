package aepedge;

/** The aep_edge_status numbers of aep_edge.h; a number not listed is still a failure. */
public final class Status {
    private Status() {}

    public static final int OK = 0;
    public static final int NULL_ARGUMENT = 1;
    public static final int INVALID_UTF8 = 2;
    public static final int INVALID_JSON = 3;
    public static final int INVALID_CONFIG = 4;
    public static final int INVALID_REQUEST = 5;
    public static final int TRANSPORT_ERROR = 6;
    public static final int TIMEOUT = 7;
    public static final int HTTP_ERROR = 8;
    public static final int AUTH_ERROR = 9;
    public static final int INVALID_RESPONSE = 10;
    public static final int QUEUE_FULL = 11;
    public static final int CLOSED = 12;
    public static final int STORAGE_ERROR = 13;
    public static final int CONSENT_DENIED = 14;
    public static final int NOT_READY = 15;
    public static final int PANIC = 99;
}
