from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_PLACED: _ClassVar[EventType]
    ORDER_FILLED: _ClassVar[EventType]
    ORDER_CANCELLED: _ClassVar[EventType]
    ORDER_REJECTED: _ClassVar[EventType]
    ORDER_EXPIRED: _ClassVar[EventType]
    ALERT_TRIGGERED: _ClassVar[EventType]
    ALERT_CREATED: _ClassVar[EventType]
    ALERT_DELETED: _ClassVar[EventType]
    POSITION_OPENED: _ClassVar[EventType]
    POSITION_CLOSED: _ClassVar[EventType]
    POSITION_UPDATED: _ClassVar[EventType]
    POSITION_LIQUIDATED: _ClassVar[EventType]
    WORKSPACE_CHANGED: _ClassVar[EventType]
    CHART_ANNOTATION_ADDED: _ClassVar[EventType]
    CHART_ANNOTATION_REMOVED: _ClassVar[EventType]
    INDICATOR_UPDATED: _ClassVar[EventType]
    STRATEGY_STARTED: _ClassVar[EventType]
    STRATEGY_STOPPED: _ClassVar[EventType]
    STRATEGY_LOG: _ClassVar[EventType]
    STRATEGY_ERROR: _ClassVar[EventType]
    BACKTEST_COMPLETED: _ClassVar[EventType]
    CONTAINER_STARTING: _ClassVar[EventType]
    CONTAINER_READY: _ClassVar[EventType]
    CONTAINER_SHUTTING_DOWN: _ClassVar[EventType]
    EVENT_ERROR: _ClassVar[EventType]

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INFORMATIONAL: _ClassVar[Priority]
    NORMAL: _ClassVar[Priority]
    CRITICAL: _ClassVar[Priority]

class ChannelType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVE_SESSION: _ClassVar[ChannelType]
    WEB: _ClassVar[ChannelType]
    TELEGRAM: _ClassVar[ChannelType]
    EMAIL: _ClassVar[ChannelType]
    PUSH: _ClassVar[ChannelType]
    DISCORD: _ClassVar[ChannelType]
    SLACK: _ClassVar[ChannelType]

class AckStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERED: _ClassVar[AckStatus]
    QUEUED: _ClassVar[AckStatus]
    ACK_ERROR: _ClassVar[AckStatus]
ORDER_PLACED: EventType
ORDER_FILLED: EventType
ORDER_CANCELLED: EventType
ORDER_REJECTED: EventType
ORDER_EXPIRED: EventType
ALERT_TRIGGERED: EventType
ALERT_CREATED: EventType
ALERT_DELETED: EventType
POSITION_OPENED: EventType
POSITION_CLOSED: EventType
POSITION_UPDATED: EventType
POSITION_LIQUIDATED: EventType
WORKSPACE_CHANGED: EventType
CHART_ANNOTATION_ADDED: EventType
CHART_ANNOTATION_REMOVED: EventType
INDICATOR_UPDATED: EventType
STRATEGY_STARTED: EventType
STRATEGY_STOPPED: EventType
STRATEGY_LOG: EventType
STRATEGY_ERROR: EventType
BACKTEST_COMPLETED: EventType
CONTAINER_STARTING: EventType
CONTAINER_READY: EventType
CONTAINER_SHUTTING_DOWN: EventType
EVENT_ERROR: EventType
INFORMATIONAL: Priority
NORMAL: Priority
CRITICAL: Priority
ACTIVE_SESSION: ChannelType
WEB: ChannelType
TELEGRAM: ChannelType
EMAIL: ChannelType
PUSH: ChannelType
DISCORD: ChannelType
SLACK: ChannelType
DELIVERED: AckStatus
QUEUED: AckStatus
ACK_ERROR: AckStatus

class UserEvent(_message.Message):
    __slots__ = ("user_id", "event_id", "timestamp", "event_type", "payload", "delivery")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    event_id: str
    timestamp: int
    event_type: EventType
    payload: bytes
    delivery: DeliverySpec
    def __init__(self, user_id: _Optional[str] = ..., event_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., event_type: _Optional[_Union[EventType, str]] = ..., payload: _Optional[bytes] = ..., delivery: _Optional[_Union[DeliverySpec, _Mapping]] = ...) -> None: ...

class DeliverySpec(_message.Message):
    __slots__ = ("priority", "channels")
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    priority: Priority
    channels: _containers.RepeatedCompositeFieldContainer[ChannelPreference]
    def __init__(self, priority: _Optional[_Union[Priority, str]] = ..., channels: _Optional[_Iterable[_Union[ChannelPreference, _Mapping]]] = ...) -> None: ...

class ChannelPreference(_message.Message):
    __slots__ = ("channel", "only_if_active")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ONLY_IF_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    channel: ChannelType
    only_if_active: bool
    def __init__(self, channel: _Optional[_Union[ChannelType, str]] = ..., only_if_active: _Optional[bool] = ...) -> None: ...

class EventAck(_message.Message):
    __slots__ = ("event_id", "status", "error_message", "delivered_via")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_VIA_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    status: AckStatus
    error_message: str
    delivered_via: ChannelType
    def __init__(self, event_id: _Optional[str] = ..., status: _Optional[_Union[AckStatus, str]] = ..., error_message: _Optional[str] = ..., delivered_via: _Optional[_Union[ChannelType, str]] = ...) -> None: ...

class OrderEventPayload(_message.Message):
    __slots__ = ("order_id", "symbol", "side", "order_type", "quantity", "price", "fill_price", "fill_quantity", "status", "exchange", "timestamp", "strategy_id", "error_message")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    FILL_PRICE_FIELD_NUMBER: _ClassVar[int]
    FILL_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    symbol: str
    side: str
    order_type: str
    quantity: str
    price: str
    fill_price: str
    fill_quantity: str
    status: str
    exchange: str
    timestamp: int
    strategy_id: str
    error_message: str
    def __init__(self, order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[str] = ..., order_type: _Optional[str] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., fill_price: _Optional[str] = ..., fill_quantity: _Optional[str] = ..., status: _Optional[str] = ..., exchange: _Optional[str] = ..., timestamp: _Optional[int] = ..., strategy_id: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class AlertEventPayload(_message.Message):
    __slots__ = ("alert_id", "symbol", "condition", "triggered_price", "timestamp")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    TRIGGERED_PRICE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    symbol: str
    condition: str
    triggered_price: str
    timestamp: int
    def __init__(self, alert_id: _Optional[str] = ..., symbol: _Optional[str] = ..., condition: _Optional[str] = ..., triggered_price: _Optional[str] = ..., timestamp: _Optional[int] = ...) -> None: ...

class PositionEventPayload(_message.Message):
    __slots__ = ("position_id", "symbol", "side", "size", "entry_price", "current_price", "unrealized_pnl", "realized_pnl", "leverage", "liquidation_price", "exchange", "timestamp")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_PRICE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PRICE_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    LIQUIDATION_PRICE_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    symbol: str
    side: str
    size: str
    entry_price: str
    current_price: str
    unrealized_pnl: str
    realized_pnl: str
    leverage: str
    liquidation_price: str
    exchange: str
    timestamp: int
    def __init__(self, position_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[str] = ..., size: _Optional[str] = ..., entry_price: _Optional[str] = ..., current_price: _Optional[str] = ..., unrealized_pnl: _Optional[str] = ..., realized_pnl: _Optional[str] = ..., leverage: _Optional[str] = ..., liquidation_price: _Optional[str] = ..., exchange: _Optional[str] = ..., timestamp: _Optional[int] = ...) -> None: ...

class WorkspaceEventPayload(_message.Message):
    __slots__ = ("workspace_id", "change_type", "symbol", "timeframe", "annotation_id", "annotation_type", "annotation_data", "indicator_name", "indicator_params", "timestamp")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIMEFRAME_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_DATA_FIELD_NUMBER: _ClassVar[int]
    INDICATOR_NAME_FIELD_NUMBER: _ClassVar[int]
    INDICATOR_PARAMS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    change_type: str
    symbol: str
    timeframe: str
    annotation_id: str
    annotation_type: str
    annotation_data: str
    indicator_name: str
    indicator_params: str
    timestamp: int
    def __init__(self, workspace_id: _Optional[str] = ..., change_type: _Optional[str] = ..., symbol: _Optional[str] = ..., timeframe: _Optional[str] = ..., annotation_id: _Optional[str] = ..., annotation_type: _Optional[str] = ..., annotation_data: _Optional[str] = ..., indicator_name: _Optional[str] = ..., indicator_params: _Optional[str] = ..., timestamp: _Optional[int] = ...) -> None: ...

class StrategyEventPayload(_message.Message):
    __slots__ = ("strategy_id", "strategy_name", "log_level", "message", "details", "timestamp")
    STRATEGY_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_NAME_FIELD_NUMBER: _ClassVar[int]
    LOG_LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    strategy_id: str
    strategy_name: str
    log_level: str
    message: str
    details: str
    timestamp: int
    def __init__(self, strategy_id: _Optional[str] = ..., strategy_name: _Optional[str] = ..., log_level: _Optional[str] = ..., message: _Optional[str] = ..., details: _Optional[str] = ..., timestamp: _Optional[int] = ...) -> None: ...

class BacktestEventPayload(_message.Message):
    __slots__ = ("backtest_id", "strategy_id", "strategy_name", "symbol", "timeframe", "start_time", "end_time", "total_trades", "winning_trades", "losing_trades", "total_pnl", "win_rate", "sharpe_ratio", "max_drawdown", "results_path", "completed_at")
    BACKTEST_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_NAME_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIMEFRAME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TRADES_FIELD_NUMBER: _ClassVar[int]
    WINNING_TRADES_FIELD_NUMBER: _ClassVar[int]
    LOSING_TRADES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PNL_FIELD_NUMBER: _ClassVar[int]
    WIN_RATE_FIELD_NUMBER: _ClassVar[int]
    SHARPE_RATIO_FIELD_NUMBER: _ClassVar[int]
    MAX_DRAWDOWN_FIELD_NUMBER: _ClassVar[int]
    RESULTS_PATH_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    backtest_id: str
    strategy_id: str
    strategy_name: str
    symbol: str
    timeframe: str
    start_time: int
    end_time: int
    total_trades: int
    winning_trades: int
    losing_trades: int
    total_pnl: str
    win_rate: str
    sharpe_ratio: str
    max_drawdown: str
    results_path: str
    completed_at: int
    def __init__(self, backtest_id: _Optional[str] = ..., strategy_id: _Optional[str] = ..., strategy_name: _Optional[str] = ..., symbol: _Optional[str] = ..., timeframe: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., total_trades: _Optional[int] = ..., winning_trades: _Optional[int] = ..., losing_trades: _Optional[int] = ..., total_pnl: _Optional[str] = ..., win_rate: _Optional[str] = ..., sharpe_ratio: _Optional[str] = ..., max_drawdown: _Optional[str] = ..., results_path: _Optional[str] = ..., completed_at: _Optional[int] = ...) -> None: ...
