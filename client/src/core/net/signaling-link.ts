import type {
  AuthChallengeAck,
  AuthChallengeRequest,
  AuthProveAck,
  AuthProveRequest,
  MembersPush,
  NoticePush,
  RoomJoinAck,
  RoomJoinRequest,
  RoomLeaveRequest,
  RoomSummary,
  SignalPush,
  SignalRequest,
  SimpleAck,
} from '../../../../signaling/src/protocol.ts';

export type SignalingStatus = 'connecting' | 'connected' | 'disconnected' | 'incompatible';

export interface SignalingEvents {
  status: (status: SignalingStatus, detail?: string) => void;
  rooms: (rooms: RoomSummary[]) => void;
  members: (push: MembersPush) => void;
  signal: (push: SignalPush) => void;
  notice: (push: NoticePush) => void;
  /** A push that failed validation: reported, never acted on. */
  invalid: (event: string, error: string) => void;
}

/** The chat layer's view of the signaling server; socket.io lives in its adapter. */
export interface SignalingLink {
  readonly socketId: string | null;
  connect(): void;
  authChallenge(req: AuthChallengeRequest): Promise<AuthChallengeAck>;
  authProve(req: AuthProveRequest): Promise<AuthProveAck>;
  joinRoom(req: RoomJoinRequest): Promise<RoomJoinAck>;
  leaveRoom(req: RoomLeaveRequest): Promise<SimpleAck>;
  signal(req: SignalRequest): Promise<SimpleAck>;
  on<K extends keyof SignalingEvents>(event: K, handler: SignalingEvents[K]): () => void;
  close(): void;
}
